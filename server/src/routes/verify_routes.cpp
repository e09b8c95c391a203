// POST /v1/verify (agent): checks the code a caller reads out. The reply is sent only after
// the replay mark, failure counts and audit entry are synced (deferred response).
#include <memory>
#include <stdexcept>

#include "crypto/constant_time.hpp"
#include "routes/route_support.hpp"
#include "server/cluster/cluster_link.hpp"
#include "server/http/json_body.hpp"
#include "server/http/json_writer.hpp"
#include "server/http/problem.hpp"
#include "server/routes/routes.hpp"
#include "server/stream/stream_hub.hpp"
#include "server/verification/verify_code.hpp"

namespace callsign::server {

namespace {
result<verify_request> decode_verify_request(const app_context& app, const http_request& request,
                                             const principal& who) {
  auto body = json_body::parse(request);
  if (!body) {
    return body.error();
  }
  if (auto known = body->only({"user", "email", "code", "ticket", "reason"}); !known) {
    return known.error();
  }
  verify_request out;
  auto user = body->optional_string("user", 128);
  auto email = body->optional_string("email", 254);
  auto code = body->required_string("code", 16);
  auto ticket = body->optional_string("ticket", 128);
  auto reason = body->optional_string("reason", 512);
  for (const auto* failed : {user.has_value() ? nullptr : &user.error(), email.has_value() ? nullptr : &email.error(),
                             code.has_value() ? nullptr : &code.error(),
                             ticket.has_value() ? nullptr : &ticket.error(),
                             reason.has_value() ? nullptr : &reason.error()}) {
    if (failed != nullptr) {
      return *failed;
    }
  }
  if (user->has_value() == email->has_value()) {
    return make_error(error_kind::invalid_input, "give exactly one of 'user' or 'email'");
  }
  if (user->has_value()) {
    if (!storage::valid_user_id(**user)) {
      return make_error(error_kind::invalid_input, "field 'user' is not a valid user id");
    }
    out.user_id = std::move(**user);
  } else {
    auto normalized = storage::normalize_email(**email);
    if (!normalized) {
      return normalized.error();
    }
    out.email = std::move(*normalized);
  }
  // Phone tokens and authenticator apps may be configured with different lengths.
  auto phone_format = check_code_format(*code, app.config.phone_token.digits);
  if (!phone_format && !check_code_format(*code, app.config.authenticator.params.digits)) {
    return phone_format.error();
  }
  out.code = std::move(*code);
  out.ticket = std::move(*ticket);
  out.reason = std::move(*reason);
  out.agent_id = who.subject;
  out.source_ip = request.remote_address;
  out.request_id = request.request_id;
  return out;
}

http_response verify_reply(const verify_outcome& outcome) {
  if (outcome.throttled) {
    return error_response(make_error(error_kind::rate_limited, "too many failed verifications; try again later"))
        .with_header("Retry-After", std::to_string(outcome.retry_after_seconds));
  }
  json_writer json;
  json.begin_object().field("valid", outcome.valid).key("method");
  if (outcome.method) {
    json.value(*outcome.method);
  } else {
    json.null();
  }
  json.key("user");
  // Only a verified caller is named: a refused code by email answers exactly as an unknown
  // email does, so the reply does not say whether the address has an account.
  if (outcome.valid && outcome.user) {
    json.value(*outcome.user);
  } else {
    json.null();
  }
  json.end_object();
  return json_response(200, std::move(json).str());
}

// The outcome's counter (GET /metrics, the admin console's verify.* series).
void count_outcome(verify_metrics& counts, const verify_outcome& outcome) {
  auto& counter = outcome.throttled  ? counts.throttled
                  : outcome.valid    ? counts.valid
                  : outcome.replayed ? counts.replayed
                                     : counts.invalid;
  counter.fetch_add(1, std::memory_order_relaxed);
}

// What the verify route uses, complete at construction.
struct verify_services {
  app_context& app;
  verification_context verification;
};

handler_result verify(const verify_services& services, http_request& request) {
  auto& app = services.app;
  auto who = caller(app, request, {role::agent});
  if (!who) {
    return who.error();
  }
  auto decoded = decode_verify_request(app, request, *who);
  crypto::secure_wipe(request.body);
  if (!decoded) {
    return decoded.error();
  }
  // Everything the asynchronous steps read lives here until the reply is built.
  struct in_flight {
    verify_request request;
    deferred_response deferred;
  };
  auto run = std::make_shared<in_flight>(in_flight{std::move(*decoded), {}});
  const auto now = now_ms(app);
  return async_response{[&services, run, now, agent = who->subject](std::function<void(handler_result)> resume) {
    verify_code(services.verification, run->request, now, run->deferred.changes,
                [&services, run, agent, resume = std::move(resume)](result<verify_outcome> outcome) {
                  crypto::secure_wipe(run->request.code);
                  if (!outcome) {
                    resume(outcome.error());
                    return;
                  }
                  run->deferred.finish = [&app = services.app, decided = std::move(*outcome),
                                          agent](const result<storage::commit_receipt>& done) {
                    if (decided.failure) return error_response(*decided.failure);  // journaled as "failed"
                    if (done) count_outcome(app.verify_counts, decided);
                    // Live dashboards hear about a verification only once it is durable. Non-blocking.
                    if (done && decided.valid && decided.user && decided.method) {
                      const auto at = app.clock.unix_seconds();
                      if (app.streams != nullptr) app.streams->publish_verified(*decided.user, agent, *decided.method, at);
                      // Dashboards connected to other nodes (docs/cluster.md, "Events").
                      if (app.cluster != nullptr) app.cluster->announce_verified(*decided.user, agent, *decided.method, at);
                    }
                    return verify_reply(decided);
                  };
                  resume(std::move(run->deferred));
                });
  }};
}
}  // namespace

void add_verify_routes(router& routes, app_context& app) {
  if (app.user_directory == nullptr || app.authenticator_directory == nullptr || app.attempts == nullptr) {
    throw std::logic_error("verify routes need the user and authenticator directories and the attempt backend");
  }
  auto services = std::make_shared<verify_services>(verify_services{
      app, {app.keys, app.config, *app.user_directory, *app.authenticator_directory, *app.attempts}});
  // Runs on the I/O thread: the backends answer inline from memory, or call back when a
  // networked call (or a cold disk read on their own pool) is done; no thread waits.
  routes.add(http_method::post, "/v1/verify", [services](http_request& r) { return verify(*services, r); });
}

}  // namespace callsign::server
