// The user directory: PUT, GET and DELETE /v1/users/{id}, GET /v1/users?email= (agent, admin) and
// the paged GET /v1/users?after=&limit= (admin). docs/users.md has the rules.
#include "routes/route_support.hpp"
#include "routes/user_json.hpp"
#include "server/json_body.hpp"
#include "server/json_writer.hpp"
#include "server/problem.hpp"
#include "server/query_string.hpp"
#include "server/routes.hpp"

namespace callsign::server {

namespace {
constexpr std::uint64_t default_page = 100;
constexpr std::uint64_t max_page = 1000;

result<std::string> user_id_param(const http_request& request) {
  std::string id(request.path_param("id").value_or(""));
  if (!storage::valid_user_id(id)) {
    return make_error(error_kind::invalid_input, "user id must be 1-128 characters from A-Z a-z 0-9 . _ @ : -");
  }
  return id;
}

handler_result put_user(app_context& app, http_request& request) {
  auto who = caller(app, request, {role::admin});
  if (!who) {
    return who.error();
  }
  auto valid_id = user_id_param(request);
  if (!valid_id) {
    return valid_id.error();
  }
  const std::string& id = *valid_id;
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
handler_result find_user(app_context& app, http_request& request, const principal& who, const std::string& email_text) {
  if (auto known = query_only(request.query, {"email"}); !known) {
    return known.error();
  }
  auto email = storage::normalize_email(email_text);
  if (!email) {
    return email.error();
  }
  auto user = app.users->find_by_email(*email);
  if (!user) {
    return user.error();
  }
  auto audit = audit_for(app, who, request, "user.lookup", *user ? (*user)->id : "");
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

// GET /v1/users/{id}: the same record and audit as the email lookup, by id.
handler_result get_user(app_context& app, http_request& request) {
  auto who = caller(app, request, {role::agent, role::admin});
  if (!who) {
    return who.error();
  }
  auto id = user_id_param(request);
  if (!id) {
    return id.error();
  }
  auto user = app.users->find(*id);
  if (!user) {
    return user.error();
  }
  auto audit = audit_for(app, *who, request, "user.lookup", *id);
  audit.outcome = *user ? "found" : "not_found";
  audit.details.emplace_back("by", "id");
  deferred_response deferred;
  deferred.changes.add_audit(std::move(audit));
  if (!*user) {
    deferred.finish = [](const result<storage::commit_receipt>&) -> http_response {
      return error_response(make_error(error_kind::not_found, "no user has that id"));
    };
    return deferred;
  }
  auto authenticator = app.authenticators->find(*id);
  if (!authenticator) {
    return authenticator.error();
  }
  deferred.finish = [body = user_json(**user, authenticator_state(*authenticator))](
                        const result<storage::commit_receipt>&) { return json_response(200, body); };
  return deferred;
}

// GET /v1/users without email: one page of the directory in id order (admin).
handler_result list_users(app_context& app, http_request& request) {
  if (auto known = query_only(request.query, {"after", "limit"}); !known) {
    return known.error();
  }
  auto after = query_param(request.query, "after");
  if (!after) {
    return after.error();
  }
  if (*after && !storage::valid_user_id(**after)) {
    return make_error(error_kind::invalid_input, "query parameter 'after' is not a valid user id");
  }
  auto limit = query_uint(request.query, "limit", 1, max_page);
  if (!limit) {
    return limit.error();
  }
  auto page = app.users->list(after->value_or(""), static_cast<std::size_t>(limit->value_or(default_page)));
  if (!page) {
    return page.error();
  }
  json_writer json;
  json.begin_object().key("users").begin_array();
  for (const auto& user : page->users) {
    auto authenticator = app.authenticators->find(user.id);
    if (!authenticator) {
      return authenticator.error();
    }
    json.raw(user_json(user, authenticator_state(*authenticator)));
  }
  json.end_array().key("next_after");
  if (page->next_after) {
    json.value(*page->next_after);
  } else {
    json.null();
  }
  json.end_object();
  return json_response(200, std::move(json).str());
}

// GET /v1/users: with email, the lookup (agent, admin); without, the listing (admin only).
handler_result get_users(app_context& app, http_request& request) {
  auto who = caller(app, request, {role::agent, role::admin});
  if (!who) {
    return who.error();
  }
  auto email = query_param(request.query, "email");
  if (!email) {
    return email.error();
  }
  if (email->has_value()) {
    return find_user(app, request, *who, **email);
  }
  if (who->role != role::admin) {
    return make_error(error_kind::forbidden, "listing users needs the admin role; look one user up with ?email=");
  }
  return list_users(app, request);
}

// DELETE /v1/users/{id} (admin): the record, its email index entry and its authenticator go in
// one batch with the audit entry. Replay marks, counters and the journal stay.
handler_result delete_user(app_context& app, http_request& request) {
  auto who = caller(app, request, {role::admin});
  if (!who) {
    return who.error();
  }
  auto id = user_id_param(request);
  if (!id) {
    return id.error();
  }
  std::lock_guard lock(app.account_mutex);
  auto user = app.users->find(*id);
  if (!user) {
    return user.error();
  }
  if (!*user) {
    return make_error(error_kind::not_found, "no user has that id");
  }
  storage::change_set changes;
  if (auto staged = app.users->stage_remove(**user, changes); !staged) {
    return staged.error();
  }
  app.authenticators->stage_remove(*id, changes);
  auto audit = audit_for(app, *who, request, "user.delete", *id);
  audit.outcome = "ok";
  changes.add_audit(std::move(audit));
  if (auto committed = commit_and_wait(app, std::move(changes)); !committed) {
    return committed.error();
  }
  http_response response;
  response.status = 204;
  response.content_type.clear();
  return response;
}
}  // namespace

void add_user_routes(router& routes, app_context& app) {
  routes.add(http_method::put, "/v1/users/{id}", [&app](http_request& r) { return put_user(app, r); },
             route_execution::worker);
  routes.add(http_method::get, "/v1/users/{id}", [&app](http_request& r) { return get_user(app, r); },
             route_execution::worker);
  routes.add(http_method::delete_, "/v1/users/{id}", [&app](http_request& r) { return delete_user(app, r); },
             route_execution::worker);
  routes.add(http_method::get, "/v1/users", [&app](http_request& r) { return get_users(app, r); },
             route_execution::worker);
}

}  // namespace callsign::server
