// Customer routes: GET /v1/me/phone-token and GET /v1/me/audit. The authenticator enrollment
// routes are in authenticator_routes.cpp.
#include <stdexcept>

#include "crypto/constant_time.hpp"
#include "crypto/key_derivation.hpp"
#include "crypto/totp.hpp"
#include "routes/route_support.hpp"
#include "routes/user_directory_calls.hpp"
#include "server/cluster/audit_view.hpp"
#include "server/http/json_writer.hpp"
#include "server/http/query_string.hpp"
#include "server/routes/routes.hpp"
#include "server/users/waiting_user_lookup.hpp"

namespace callsign::server {

// Waits for the user directory: for the stream's authentication and token table
// (stream_routes.cpp), on the worker pool. Routes use find_eligible_customer
// (user_directory_calls.hpp).
result<storage::user_record> customer_eligibility(result<std::optional<storage::stored_user>> user) {
  if (!user) {
    return user.error();
  }
  if (!*user) {
    return make_error(error_kind::not_found, "your account is not registered with callsign");
  }
  if (!(*user)->record.phone_support) {
    return make_error(error_kind::forbidden, "phone support is not enabled for your account");
  }
  return std::move((*user)->record);
}

result<storage::user_record> eligible_customer(const app_context& app, const principal& who) {
  auto found = find_users_waiting(*app.user_directory, {who.subject});
  return customer_eligibility(std::move(found.front()));
}

std::string phone_token_json(const app_context& app, std::string_view user_id) {
  return phone_token_json(app, user_id, app.clock.unix_seconds());
}

std::string phone_token_json(const app_context& app, std::string_view user_id, std::int64_t now) {
  const auto& params = app.config.phone_token;
  auto step = crypto::totp_step(params, now);
  auto token = crypto::phone_token_at_step(app.keys.current(), user_id, params, step);
  auto expires_at = params.t0 + static_cast<std::int64_t>(step + 1) * params.period;
  json_writer json;
  json.begin_object()
      .field("token", token)
      .field("step", static_cast<std::uint64_t>(step))
      .field("expires_at", expires_at)
      .field("period", params.period)
      .end_object();
  crypto::secure_wipe(token);
  return std::move(json).str();
}

namespace {
handler_result get_phone_token(app_context& app, http_request& request) {
  auto who = caller(app, request, {role::customer});
  if (!who) {
    return who.error();
  }
  return async_response{[&app, subject = who->subject](std::function<void(handler_result)> resume) {
    find_eligible_customer(*app.user_directory, subject, [&app, resume](result<storage::stored_user> user) {
      if (!user) {
        resume(user.error());
        return;
      }
      resume(json_response(200, phone_token_json(app, user->record.id)));
    });
  }};
}

std::string entries_json(const std::vector<storage::audit_entry>& entries, std::string_view cursor_name,
                         std::optional<std::uint64_t> cursor) {
  json_writer json;
  json.begin_object().key("entries").begin_array();
  for (const auto& entry : entries) {
    json.raw(storage::audit_entry_json(entry));
  }
  json.end_array().key(cursor_name);
  if (cursor) {
    json.value(*cursor);
  } else {
    json.null();
  }
  json.end_object();
  return std::move(json).str();
}

// Shared mode: every node's entries from the user's Redis stream, paged by stream id.
handler_result get_my_audit_across_nodes(const app_context& app, const principal& who, http_request& request) {
  if (auto known = query_only(request.query, {"limit", "cursor"}); !known) {
    return make_error(error_kind::invalid_input, known.error().message +
                                                     " (on several nodes this trail pages with 'cursor', the previous "
                                                     "page's next_cursor)");
  }
  auto limit = query_uint(request.query, "limit", 1, 200);
  if (!limit) {
    return limit.error();
  }
  auto cursor = audit_cursor_param(request.query);
  if (!cursor) {
    return cursor.error();
  }
  return async_response{[view = app.cluster_audit, subject = who.subject, cursor = std::move(*cursor),
                         count = static_cast<std::size_t>(limit->value_or(50))](
                            std::function<void(handler_result)> resume) {
    view->read(subject, audit_order::newest_first, cursor, count, [resume](result<audit_view_page> page) {
      if (!page) {
        resume(page.error());
        return;
      }
      resume(json_response(200, audit_view_page_json(*page)));
    });
  }};
}

handler_result get_my_audit(app_context& app, http_request& request) {
  auto who = caller(app, request, {role::customer});
  if (!who) {
    return who.error();
  }
  if (app.cluster_audit != nullptr) {
    return get_my_audit_across_nodes(app, *who, request);
  }
  if (auto known = query_only(request.query, {"limit", "before"}); !known) {
    return known.error();
  }
  auto limit = query_uint(request.query, "limit", 1, 200);
  if (!limit) {
    return limit.error();
  }
  auto before = query_uint(request.query, "before", 1, UINT64_MAX);
  if (!before) {
    return before.error();
  }
  auto count = static_cast<std::size_t>(limit->value_or(50));
  auto entries = app.journal->for_subject(who->subject, count, *before);
  if (!entries) {
    return entries.error();
  }
  std::optional<std::uint64_t> next;
  if (entries->size() == count && !entries->empty()) {
    next = entries->back().seq;
  }
  return json_response(200, entries_json(*entries, "next_before", next));
}
}  // namespace

result<std::optional<std::string>> audit_cursor_param(std::string_view query) {
  auto cursor = query_param(query, "cursor");
  if (!cursor) {
    return cursor.error();
  }
  if (*cursor && !valid_audit_cursor(**cursor)) {
    return make_error(error_kind::invalid_input, "query parameter 'cursor' is not a cursor (a next_cursor value)");
  }
  return std::move(*cursor);
}

std::string audit_page_json(const std::vector<storage::audit_entry>& entries, std::string_view cursor_name,
                            std::optional<std::uint64_t> cursor) {
  return entries_json(entries, cursor_name, cursor);
}

void add_me_routes(router& routes, app_context& app) {
  if (app.user_directory == nullptr) {
    throw std::logic_error("the me routes need the user directory");
  }
  // On the I/O thread: the directory answers inline from memory or calls back.
  routes.add(http_method::get, "/v1/me/phone-token", [&app](http_request& r) { return get_phone_token(app, r); });
  // Shared mode waits for Redis (an async_response, on the I/O thread); one node reads its journal.
  routes.add(http_method::get, "/v1/me/audit", [&app](http_request& r) { return get_my_audit(app, r); },
             app.cluster_audit != nullptr ? route_execution::io : route_execution::worker)
      .accepting_query({"limit", "cursor", "before"});  // cursor on several nodes, before on one
}

}  // namespace callsign::server
