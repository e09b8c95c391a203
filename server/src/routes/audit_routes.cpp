// GET /v1/audit?user=&after=&limit= (admin): the journal in sequence order, paginated with
// `after` (the last seq of the previous page). With `user`, only that user's entries; in shared
// mode those come from every node (server/cluster/audit_view.hpp), paged with `cursor`.
#include "routes/route_support.hpp"
#include "server/cluster/audit_view.hpp"
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
  const audit_view* across_nodes;  // shared mode; null on one node
};

// Shared mode, ?user=: the user's entries of every node, oldest first, after `cursor`.
handler_result list_user_audit_across_nodes(const audit_services& services, std::string user, http_request& request) {
  if (auto known = query_only(request.query, {"user", "cursor", "limit"}); !known) {
    return make_error(error_kind::invalid_input, known.error().message +
                                                     " (on several nodes a user's entries page with 'cursor', the "
                                                     "previous page's next_cursor)");
  }
  if (!storage::valid_user_id(user)) {
    return make_error(error_kind::invalid_input, "query parameter 'user' is not a valid user id");
  }
  auto limit = query_uint(request.query, "limit", 1, max_page);
  if (!limit) {
    return limit.error();
  }
  auto cursor = audit_cursor_param(request.query);
  if (!cursor) {
    return cursor.error();
  }
  return async_response{[view = services.across_nodes, user = std::move(user), cursor = std::move(*cursor),
                         count = static_cast<std::size_t>(limit->value_or(100))](
                            std::function<void(handler_result)> resume) {
    view->read(user, audit_order::oldest_first, cursor, count, [resume](result<audit_view_page> page) {
      if (!page) {
        resume(page.error());
        return;
      }
      resume(json_response(200, audit_view_page_json(*page)));
    });
  }};
}

handler_result list_audit(const audit_services& services, http_request& request) {
  auto who = caller(services.app, request, {role::admin});
  if (!who) {
    return who.error();
  }
  if (services.across_nodes != nullptr) {
    if (auto user = query_param(request.query, "user"); user && *user) {
      return list_user_audit_across_nodes(services, std::move(**user), request);
    }
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
  // On the worker pool: reading this node's journal may wait for the disk. Shared mode's
  // ?user= answers through an async_response from there too.
  routes.add(http_method::get, "/v1/audit",
             [services = audit_services{app, *app.journal, app.cluster_audit}](http_request& r) {
               return list_audit(services, r);
             },
             route_execution::worker)
      .accepting_query({"user", "cursor", "after", "limit"});  // which of them depends on the mode
}

}  // namespace callsign::server
