// The user directory: PUT, GET and DELETE /v1/users/{id}, GET /v1/users?email= (agent, admin),
// the paged GET /v1/users?after=&limit= (admin) and, from user_import_routes.cpp, the bulk
// import POST /v1/admin/users/import (admin). docs/users.md has the rules.
#include <stdexcept>

#include "routes/route_support.hpp"
#include "routes/user_directory_calls.hpp"
#include "routes/user_import_routes.hpp"
#include "routes/user_json.hpp"
#include "server/http/json_body.hpp"
#include "server/http/json_writer.hpp"
#include "server/http/problem.hpp"
#include "server/http/query_string.hpp"
#include "server/routes/routes.hpp"
#include "server/users/user_fields.hpp"

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

http_response no_content() {
  http_response response;
  response.status = 204;
  response.content_type.clear();
  return response;
}

// A looked-up user's reply, sent once the lookup's audit entry is durable.
handler_result audited_lookup(app_context& app, storage::audit_draft audit, std::optional<storage::stored_user> user,
                              std::string_view not_found_detail, std::function<void(handler_result)> resume) {
  audit.outcome = user ? "found" : "not_found";
  deferred_response deferred;
  deferred.changes.add_audit(std::move(audit));
  if (!user) {
    deferred.finish = [detail = std::string(not_found_detail)](const result<storage::commit_receipt>&) {
      return error_response(make_error(error_kind::not_found, detail));
    };
    resume(std::move(deferred));
    return http_response{};
  }
  with_authenticator_json(*app.authenticator_directory, std::move(user->record),
                          [deferred = std::move(deferred), resume](result<std::string> body) mutable {
                            if (!body) {
                              resume(body.error());
                              return;
                            }
                            deferred.finish = [body = std::move(*body)](const result<storage::commit_receipt>&) {
                              return json_response(200, body);
                            };
                            resume(std::move(deferred));
                          });
  return http_response{};
}

// PUT /v1/users/{id} (admin): creates or replaces the user, conditional on the version read
// here; a write that raced another admin's is a 409 (docs/users.md). No lock, no waiting thread.
handler_result put_user(app_context& app, http_request& request) {
  auto who = caller(app, request, {role::admin});
  if (!who) {
    return who.error();
  }
  auto valid_id = user_id_param(request);
  if (!valid_id) {
    return valid_id.error();
  }
  auto fields = parse_user_fields(request);
  if (!fields) {
    return fields.error();
  }
  auto audit = audit_for(app, *who, request, "", *valid_id);
  return async_response{[&app, id = *valid_id, fields = *fields, audit = std::move(audit)](
                            std::function<void(handler_result)> resume) mutable {
    app.user_directory->find(id, [&app, id, fields, audit = std::move(audit),
                                  resume](result<std::optional<storage::stored_user>> previous) mutable {
      if (!previous) {
        resume(previous.error());
        return;
      }
      const bool existed = previous->has_value();
      const auto now = app.clock.unix_seconds();
      storage::user_record user{id, fields.email, fields.phone_support, existed ? (*previous)->record.created_at : now,
                                now};
      storage::change_set changes;
      audit.action = existed ? "user.update" : "user.create";
      audit.outcome = "ok";
      audit.details.emplace_back("phone_support", fields.phone_support ? "true" : "false");
      changes.add_audit(std::move(audit));
      const std::uint64_t expected = existed ? (*previous)->version : 0;
      app.user_directory->put(user, expected, std::move(changes),
                              [&app, user, existed, resume](result<std::uint64_t> written) {
                                if (!written) {
                                  resume(written.error());
                                  return;
                                }
                                with_authenticator_json(*app.authenticator_directory, user,
                                                        [existed, resume](result<std::string> body) {
                                                          if (!body) {
                                                            resume(body.error());
                                                            return;
                                                          }
                                                          resume(json_response(existed ? 200 : 201, std::move(*body)));
                                                        });
                              });
    });
  }};
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
  auto audit = audit_for(app, who, request, "user.lookup", "");
  return async_response{[&app, email = *email, audit = std::move(audit)](std::function<void(handler_result)> resume) {
    app.user_directory->find_by_email(
        email, [&app, audit, resume](result<std::optional<storage::stored_user>> user) mutable {
          if (!user) {
            resume(user.error());
            return;
          }
          audit.subject = *user ? (*user)->record.id : "";
          (void)audited_lookup(app, std::move(audit), std::move(*user), "no user has that email", resume);
        });
  }};
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
  auto audit = audit_for(app, *who, request, "user.lookup", *id);
  audit.details.emplace_back("by", "id");
  return async_response{[&app, id = *id, audit = std::move(audit)](std::function<void(handler_result)> resume) {
    app.user_directory->find(id, [&app, audit, resume](result<std::optional<storage::stored_user>> user) mutable {
      if (!user) {
        resume(user.error());
        return;
      }
      (void)audited_lookup(app, std::move(audit), std::move(*user), "no user has that id", resume);
    });
  }};
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
  return async_response{[&app, after = after->value_or(""), limit = static_cast<std::size_t>(limit->value_or(default_page))](
                            std::function<void(handler_result)> resume) {
    app.user_directory->list(after, limit, [&app, resume](result<storage::user_page> page) {
      if (!page) {
        resume(page.error());
        return;
      }
      auto next_after = page->next_after;
      page_json(*app.authenticator_directory, std::move(page->users),
                [next_after, resume](result<std::vector<std::string>> users) {
                  if (!users) {
                    resume(users.error());
                    return;
                  }
                  json_writer json;
                  json.begin_object().key("users").begin_array();
                  for (const auto& user : *users) {
                    json.raw(user);
                  }
                  json.end_array().key("next_after");
                  if (next_after) {
                    json.value(*next_after);
                  } else {
                    json.null();
                  }
                  json.end_object();
                  resume(json_response(200, std::move(json).str()));
                });
    });
  }};
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
// one write with the audit entry, conditional on the version read here. Replay marks, counters
// and the journal stay.
handler_result delete_user(app_context& app, http_request& request) {
  auto who = caller(app, request, {role::admin});
  if (!who) {
    return who.error();
  }
  auto id = user_id_param(request);
  if (!id) {
    return id.error();
  }
  auto audit = audit_for(app, *who, request, "user.delete", *id);
  audit.outcome = "ok";
  return async_response{[&app, id = *id, audit = std::move(audit)](std::function<void(handler_result)> resume) {
    app.user_directory->find(id, [&app, id, audit, resume](result<std::optional<storage::stored_user>> user) mutable {
      if (!user) {
        resume(user.error());
        return;
      }
      if (!*user) {
        resume(make_error(error_kind::not_found, "no user has that id"));
        return;
      }
      storage::change_set changes;
      changes.add_audit(std::move(audit));
      app.user_directory->remove(id, (*user)->version, std::move(changes), [resume](result<void> removed) {
        resume(removed ? handler_result(no_content()) : handler_result(removed.error()));
      });
    });
  }};
}
}  // namespace

void add_user_routes(router& routes, app_context& app) {
  if (app.user_directory == nullptr || app.authenticator_directory == nullptr) {
    throw std::logic_error("user routes need the user and authenticator directories");
  }
  // On the I/O thread: the directories answer inline from memory or call back later (a cold
  // read on their disk pool, a commit on the writer); no thread waits.
  routes.add(http_method::put, "/v1/users/{id}", [&app](http_request& r) { return put_user(app, r); });
  routes.add(http_method::get, "/v1/users/{id}", [&app](http_request& r) { return get_user(app, r); });
  routes.add(http_method::delete_, "/v1/users/{id}", [&app](http_request& r) { return delete_user(app, r); });
  routes.add(http_method::get, "/v1/users", [&app](http_request& r) { return get_users(app, r); })
      .accepting_query({"email", "after", "limit"});  // email (lookup) or after and limit (listing)
  add_user_import_route(routes, app);
}

}  // namespace callsign::server
