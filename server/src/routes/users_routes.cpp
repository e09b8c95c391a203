// PUT /v1/users/{id} (admin) and GET /v1/users?email= (agent, admin).
#include "routes/route_support.hpp"
#include "routes/user_json.hpp"
#include "server/json_body.hpp"
#include "server/problem.hpp"
#include "server/query_string.hpp"
#include "server/routes.hpp"

namespace callsign::server {

namespace {
handler_result put_user(app_context& app, http_request& request) {
  auto who = caller(app, request, {role::admin});
  if (!who) {
    return who.error();
  }
  std::string id(request.path_param("id").value_or(""));
  if (!storage::valid_user_id(id)) {
    return make_error(error_kind::invalid_input, "user id must be 1-128 characters from A-Z a-z 0-9 . _ @ : -");
  }
  auto body = json_body::parse(request);
  if (!body) {
    return body.error();
  }
  if (auto known = body->only({"email", "phone_support"}); !known) {
    return known.error();
  }
  auto email_text = body->required_string("email", 254);
  if (!email_text) {
    return email_text.error();
  }
  auto phone_support = body->required_bool("phone_support");
  if (!phone_support) {
    return phone_support.error();
  }
  auto email = storage::normalize_email(*email_text);
  if (!email) {
    return email.error();
  }

  std::lock_guard lock(app.account_mutex);
  auto previous = app.users->find(id);
  if (!previous) {
    return previous.error();
  }
  auto now = app.clock.unix_seconds();
  storage::user_record user{id, *email, *phone_support, *previous ? (*previous)->created_at : now, now};
  storage::change_set changes;
  if (auto staged = app.users->stage_upsert(user, *previous, changes); !staged) {
    return staged.error();
  }
  auto audit = audit_for(app, *who, request, *previous ? "user.update" : "user.create", id);
  audit.outcome = "ok";
  audit.details.emplace_back("phone_support", *phone_support ? "true" : "false");
  changes.add_audit(std::move(audit));
  if (auto committed = commit_and_wait(app, std::move(changes)); !committed) {
    return committed.error();
  }
  auto authenticator = app.authenticators->find(id);
  if (!authenticator) {
    return authenticator.error();
  }
  return json_response(*previous ? 200 : 201, user_json(user, authenticator_state(*authenticator)));
}

// Agents look a caller up by the email they give on the phone; the lookup is audited.
handler_result find_user(app_context& app, http_request& request) {
  auto who = caller(app, request, {role::agent, role::admin});
  if (!who) {
    return who.error();
  }
  if (auto known = query_only(request.query, {"email"}); !known) {
    return known.error();
  }
  auto email_text = query_param(request.query, "email");
  if (!email_text) {
    return email_text.error();
  }
  if (!email_text->has_value()) {
    return make_error(error_kind::invalid_input, "query parameter 'email' is required");
  }
  auto email = storage::normalize_email(**email_text);
  if (!email) {
    return email.error();
  }
  auto user = app.users->find_by_email(*email);
  if (!user) {
    return user.error();
  }
  auto audit = audit_for(app, *who, request, "user.lookup", *user ? (*user)->id : "");
  audit.outcome = *user ? "found" : "not_found";
  if (!*user) {
    deferred_response deferred;
    deferred.changes.add_audit(std::move(audit));
    deferred.finish = [](const result<storage::commit_receipt>&) -> http_response {
      return error_response(make_error(error_kind::not_found, "no user has that email"));
    };
    return deferred;
  }
  auto authenticator = app.authenticators->find((*user)->id);
  if (!authenticator) {
    return authenticator.error();
  }
  deferred_response deferred;
  deferred.changes.add_audit(std::move(audit));
  deferred.finish = [body = user_json(**user, authenticator_state(*authenticator))](
                        const result<storage::commit_receipt>&) { return json_response(200, body); };
  return deferred;
}
}  // namespace

void add_user_routes(router& routes, app_context& app) {
  routes.add(http_method::put, "/v1/users/{id}", [&app](http_request& r) { return put_user(app, r); },
             route_execution::worker);
  routes.add(http_method::get, "/v1/users", [&app](http_request& r) { return find_user(app, r); },
             route_execution::worker);
}

}  // namespace callsign::server
