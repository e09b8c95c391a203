// Authenticator-app enrollment for customers (the logic is server/verification/
// authenticator_enrollment.hpp; these are its adapters):
//   POST /v1/me/authenticator          start (or restart) enrollment: otpauth URI, secret, QR
//   POST /v1/me/authenticator/confirm  {"code"} activates the pending secret
//   DELETE /v1/me/authenticator        removes it
#include <memory>
#include <stdexcept>

#include "crypto/constant_time.hpp"
#include "routes/route_support.hpp"
#include "routes/user_directory_calls.hpp"
#include "routes/user_json.hpp"
#include "server/http/json_body.hpp"
#include "server/http/json_writer.hpp"
#include "server/cluster/cluster_link.hpp"
#include "server/http/problem.hpp"
#include "server/routes/routes.hpp"
#include "server/stream/stream_hub.hpp"
#include "server/verification/authenticator_enrollment.hpp"
#include "server/verification/qr_svg.hpp"
#include "server/verification/verify_code.hpp"

namespace callsign::server {

namespace {
// Tells the user's open dashboards the new enrollment state. Called only after the change and
// its audit entry are committed (durable), like the `verified` notice. Never a secret or code.
void announce(app_context& app, std::string_view user, const storage::authenticator_record& record) {
  const auto at = app.clock.unix_seconds();
  if (app.streams != nullptr) {
    app.streams->publish_authenticator(user, authenticator_state(record), at);
  }
  if (app.cluster != nullptr) {
    app.cluster->announce_authenticator(user, authenticator_state(record), at);
  }
}

// What these routes use, complete at construction.
struct enrollment_services {
  app_context& app;
  enrollment_context ctx;
};

http_response no_content() {
  http_response response;
  response.status = 204;
  response.content_type.clear();
  return response;
}

// Everything an asynchronous enrollment step reads lives here until the reply is built.
struct enrollment_run {
  storage::change_set changes;
  enrollment_started started;

  ~enrollment_run() {
    crypto::secure_wipe(started.otpauth_uri);
    crypto::secure_wipe(started.secret_base32);
  }
};

// Writes the decided record conditional on the version it was decided from, with the change set;
// then announces the new state and replies with `reply`, both on the connection's I/O thread (a
// deferred response with nothing left to commit): the write completes on the writer's or the
// Redis client's thread, which may still run while shutdown frees the stream hub.
// `on_conflict`, when set, runs instead of a 409 when another write came first (a start or a
// removal decides again from what that write left).
void write_enrollment(const enrollment_services& services, const std::string& user, enrollment_write write,
                      const std::shared_ptr<enrollment_run>& run, std::function<http_response()> reply,
                      std::function<void(handler_result)> resume, std::function<void()> on_conflict = {}) {
  auto record = write.record;
  services.ctx.authenticators.put(
      user, std::move(write.record), write.expected_version, std::move(run->changes),
      [&services, user, record = std::move(record), run, reply = std::move(reply), resume = std::move(resume),
       on_conflict = std::move(on_conflict)](result<std::uint64_t> written) {
        if (!written && written.error().kind == error_kind::conflict && on_conflict) {
          on_conflict();
          return;
        }
        if (!written) {
          resume(written.error());
          return;
        }
        deferred_response announced;
        announced.finish = [&services, user, record, reply](const result<storage::commit_receipt>&) {
          announce(services.app, user, record);
          return reply();
        };
        resume(std::move(announced));
      });
}

// The body of these routes is optional; when present it must be a JSON object with `known` fields.
result<std::optional<json_body>> optional_body(const http_request& request,
                                               std::initializer_list<std::string_view> known) {
  if (request.body.empty()) {
    return std::optional<json_body>{};
  }
  auto body = json_body::parse(request);
  if (!body) {
    return body.error();
  }
  if (auto ok = body->only(known); !ok) {
    return ok.error();
  }
  return std::optional<json_body>(std::move(body).value());
}

// One try of a start or a removal; a try that lost a race tries again from a fresh read (the
// mutex these routes used to take serialized them the same way), at most max_tries times.
constexpr int max_tries = 16;

struct enrollment_try {
  const enrollment_services& services;
  std::string subject;
  storage::audit_draft audit;
  std::function<void(handler_result)> resume;
  int tries_left = max_tries;

  std::function<void()> again(void (*next)(const std::shared_ptr<enrollment_try>&),
                              const std::shared_ptr<enrollment_try>& self) const {
    if (tries_left <= 1) return {};
    return [self, next] {
      --self->tries_left;
      next(self);
    };
  }
};

void try_start(const std::shared_ptr<enrollment_try>& attempt) {
  find_eligible_customer(*attempt->services.app.user_directory, attempt->subject, [attempt](
                                                                                       result<storage::stored_user> user) {
    if (!user) {
      attempt->resume(user.error());
      return;
    }
    auto run = std::make_shared<enrollment_run>();
    start_enrollment(attempt->services.ctx, user->record, attempt->audit, run->changes,
                     [attempt, run, id = user->record.id](result<enrollment_started> started) {
                       if (!started) {
                         attempt->resume(started.error());
                         return;
                       }
                       run->started = std::move(*started);
                       auto qr = qr_svg(run->started.otpauth_uri);
                       if (!qr) {
                         attempt->resume(qr.error());
                         return;
                       }
                       auto write = std::move(run->started.write);
                       write_enrollment(
                           attempt->services, id, std::move(write), run,
                           [run, qr = std::move(*qr)]() -> http_response {
                             json_writer json;
                             json.begin_object()
                                 .field("otpauth_uri", run->started.otpauth_uri)
                                 .field("secret", run->started.secret_base32)
                                 .field("qr_svg", qr)
                                 .field("state", "pending")
                                 .end_object();
                             return json_response(201, std::move(json).str());
                           },
                           attempt->resume, attempt->again(try_start, attempt));
                     });
  });
}

handler_result start_route(const enrollment_services& services, http_request& request) {
  auto& app = services.app;
  auto who = caller(app, request, {role::customer});
  if (!who) {
    return who.error();
  }
  if (auto body = optional_body(request, {}); !body) {
    return body.error();
  }
  auto audit = audit_for(app, *who, request, "authenticator.enroll", who->subject);
  return async_response{[&services, subject = who->subject, audit = std::move(audit)](
                            std::function<void(handler_result)> resume) mutable {
    try_start(std::make_shared<enrollment_try>(enrollment_try{services, subject, std::move(audit), std::move(resume)}));
  }};
}

handler_result confirm_route(const enrollment_services& services, http_request& request) {
  auto& app = services.app;
  auto who = caller(app, request, {role::customer});
  if (!who) {
    return who.error();
  }
  auto body = json_body::parse(request);
  if (!body) {
    return body.error();
  }
  if (auto known = body->only({"code"}); !known) {
    return known.error();
  }
  auto code = body->required_string("code", 16);
  if (!code) {
    return code.error();
  }
  if (auto format = check_code_format(*code, app.config.authenticator.params.digits); !format) {
    crypto::secure_wipe(*code);
    return format.error();
  }
  auto audit = audit_for(app, *who, request, "authenticator.confirm", who->subject);
  return async_response{[&services, subject = who->subject, code = std::move(*code), audit = std::move(audit)](
                            std::function<void(handler_result)> resume) mutable {
    find_eligible_customer(
        *services.app.user_directory, subject,
        [&services, code = std::move(code), audit = std::move(audit), resume](result<storage::stored_user> user) mutable {
          if (!user) {
            crypto::secure_wipe(code);
            const auto kind = user.error().kind;
            if (kind != error_kind::unavailable && kind != error_kind::storage_failed && kind != error_kind::internal) {
              resume(user.error());  // no such customer, or not eligible: nothing was attempted
              return;
            }
            // The backend failed before the code was tried: journaled as "failed", as a verify is.
            deferred_response deferred;
            storage::mark_failed_attempt(audit, user.error());
            deferred.changes.add_audit(std::move(audit));
            deferred.finish = [failure = user.error()](const result<storage::commit_receipt>&) {
              return error_response(failure);
            };
            resume(std::move(deferred));
            return;
          }
          auto run = std::make_shared<enrollment_run>();
          const std::string id = user->record.id;
          confirm_enrollment(services.ctx, id, code, std::move(audit), run->changes,
                             [&services, run, id, resume](result<confirm_outcome> confirmed) {
                               if (!confirmed) {
                                 resume(confirmed.error());
                                 return;
                               }
                               if (confirmed->status != confirm_status::active) {
                                 // The audit entry (and a wrong code's failure count) is durable
                                 // before the 429, 422 or 503.
                                 deferred_response deferred;
                                 deferred.changes = std::move(run->changes);
                                 deferred.finish = [decided = std::move(*confirmed)](
                                                       const result<storage::commit_receipt>&) {
                                   if (decided.status == confirm_status::failed) return error_response(*decided.failure);
                                   if (decided.status == confirm_status::throttled) {
                                     return error_response(make_error(error_kind::rate_limited,
                                                                      "too many wrong codes; try again later"))
                                         .with_header("Retry-After", std::to_string(decided.retry_after_seconds));
                                   }
                                   return error_response(make_error(
                                       error_kind::rejected, "the code does not match the pending authenticator"));
                                 };
                                 resume(std::move(deferred));
                                 return;
                               }
                               const auto activated_at = confirmed->write->record.activated_at;
                               write_enrollment(
                                   services, id, std::move(*confirmed->write), run,
                                   [activated_at]() -> http_response {
                                     json_writer json;
                                     json.begin_object()
                                         .field("state", "active")
                                         .field("activated_at", activated_at)
                                         .end_object();
                                     return json_response(200, std::move(json).str());
                                   },
                                   resume);
                             });
          crypto::secure_wipe(code);
        });
  }};
}

void try_remove(const std::shared_ptr<enrollment_try>& attempt) {
  auto run = std::make_shared<enrollment_run>();
  remove_enrollment(attempt->services.ctx, attempt->subject, attempt->audit, run->changes,
                    [attempt, run](result<enrollment_write> write) {
                      if (!write) {
                        attempt->resume(write.error());
                        return;
                      }
                      write_enrollment(attempt->services, attempt->subject, std::move(*write), run,
                                       []() -> http_response { return no_content(); }, attempt->resume,
                                       attempt->again(try_remove, attempt));
                    });
}

handler_result remove_route(const enrollment_services& services, http_request& request) {
  auto who = caller(services.app, request, {role::customer});
  if (!who) {
    return who.error();
  }
  auto audit = audit_for(services.app, *who, request, "authenticator.remove", who->subject);
  return async_response{[&services, subject = who->subject, audit = std::move(audit)](
                            std::function<void(handler_result)> resume) mutable {
    try_remove(std::make_shared<enrollment_try>(enrollment_try{services, subject, std::move(audit), std::move(resume)}));
  }};
}
}  // namespace

void add_authenticator_routes(router& routes, app_context& app) {
  if (app.user_directory == nullptr || app.authenticator_directory == nullptr || app.attempts == nullptr) {
    throw std::logic_error("authenticator routes need the directories and the attempt backend");
  }
  auto services = std::make_shared<enrollment_services>(enrollment_services{
      app, {app.keys, app.config, app.clock, *app.authenticator_directory, *app.attempts}});
  // On the I/O thread: the backends answer inline or call back; no thread waits.
  routes.add(http_method::post, "/v1/me/authenticator",
             [services](http_request& r) { return start_route(*services, r); });
  routes.add(http_method::post, "/v1/me/authenticator/confirm",
             [services](http_request& r) { return confirm_route(*services, r); });
  routes.add(http_method::delete_, "/v1/me/authenticator",
             [services](http_request& r) { return remove_route(*services, r); });
}

}  // namespace callsign::server
