// GET /v1/audit?user=&after=&limit= (admin): the journal in sequence order, paginated with
// `after` (the last seq of the previous page). With `user`, only that user's entries.
#include "routes/route_support.hpp"
#include "server/query_string.hpp"
#include "server/routes.hpp"
#include "storage/audit_entry.hpp"

namespace callsign::server {

namespace {
constexpr std::size_t max_page = 500;

// A subject's entries with seq > after, ascending: walks the per-user index forward.
result<std::vector<storage::audit_entry>> subject_after(const app_context& app, const std::string& subject,
                                                        std::uint64_t after, std::size_t limit) {
  std::vector<std::uint64_t> seqs;
  auto prefix = storage::audit_subject_prefix(subject);
  auto scanned = app.db.scan(storage::column_family::audit_by_user, storage::database::scan_direction::forward,
                             storage::audit_subject_key(subject, after + 1),
                             [&](std::string_view key, std::string_view) {
                               if (key.substr(0, prefix.size()) != prefix || seqs.size() >= limit) {
                                 return false;
                               }
                               if (auto seq = storage::parse_audit_key(key.substr(prefix.size()))) {
                                 seqs.push_back(*seq);
                               }
                               return true;
                             });
  if (!scanned) {
    return scanned.error();
  }
  std::vector<storage::audit_entry> entries;
  for (auto seq : seqs) {
    auto entry = app.journal->at(seq);
    if (!entry) {
      return entry.error();
    }
    if (*entry) {
      entries.push_back(std::move(**entry));
    }
  }
  return entries;
}

handler_result list_audit(app_context& app, http_request& request) {
  auto who = caller(app, request, {role::admin});
  if (!who) {
    return who.error();
  }
  if (auto known = query_only(request.query, {"user", "after", "limit"}); !known) {
    return known.error();
  }
  auto user = query_param(request.query, "user");
  if (!user) {
    return user.error();
  }
  if (*user && !storage::valid_user_id(**user)) {
    return make_error(error_kind::invalid_input, "query parameter 'user' is not a valid user id");
  }
  auto after = query_uint(request.query, "after", 0, UINT64_MAX - 1);
  if (!after) {
    return after.error();
  }
  auto limit = query_uint(request.query, "limit", 1, max_page);
  if (!limit) {
    return limit.error();
  }
  auto count = static_cast<std::size_t>(limit->value_or(100));
  auto start = after->value_or(0);
  auto entries = *user ? subject_after(app, **user, start, count) : app.journal->after(start, count);
  if (!entries) {
    return entries.error();
  }
  std::optional<std::uint64_t> next;
  if (entries->size() == count && !entries->empty()) {
    next = entries->back().seq;
  }
  return json_response(200, audit_page_json(*entries, "next_after", next));
}
}  // namespace

void add_audit_routes(router& routes, app_context& app) {
  routes.add(http_method::get, "/v1/audit", [&app](http_request& r) { return list_audit(app, r); },
             route_execution::worker);
}

}  // namespace callsign::server
