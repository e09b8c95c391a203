// GET /v1/audit?user=&after=&limit= (admin): the journal in sequence order, paginated with
// `after` (the last seq of the previous page). With `user`, only that user's entries.
#include "routes/route_support.hpp"
#include "server/http/query_string.hpp"
#include "server/routes/routes.hpp"
#include "storage/audit_entry.hpp"
#include "storage/audit_journal.hpp"

namespace callsign::server {

namespace {
constexpr std::size_t max_page = 500;

// What GET /v1/audit uses, complete at construction: the caller check reads the app's
// verifier and config; entries come from the journal alone, never from a column family.
struct audit_services {
  const app_context& app;
  const storage::audit_journal& journal;
};

handler_result list_audit(const audit_services& services, http_request& request) {
  auto who = caller(services.app, request, {role::admin});
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
  auto entries = *user ? services.journal.for_subject_after(**user, start, count) : services.journal.after(start, count);
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
  if (app.journal == nullptr) return;  // no journal to read: the path answers 404
  routes.add(http_method::get, "/v1/audit",
             [services = audit_services{app, *app.journal}](http_request& r) { return list_audit(services, r); },
             route_execution::worker);
}

}  // namespace callsign::server
