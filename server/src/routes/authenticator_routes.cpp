// Authenticator-app enrollment for customers (the logic is server/verification/
// authenticator_enrollment.hpp; these are its adapters):
//   POST /v1/me/authenticator          start (or restart) enrollment: otpauth URI, secret, QR
//   POST /v1/me/authenticator/confirm  {"code"} activates the pending secret
//   DELETE /v1/me/authenticator        removes it
#include "crypto/constant_time.hpp"
#include "routes/route_support.hpp"
#include "routes/user_json.hpp"
#include "server/json_body.hpp"
#include "server/json_writer.hpp"
#include "server/problem.hpp"
#include "server/qr_svg.hpp"
#include "server/routes.hpp"
#include "server/stream_hub.hpp"
#include "server/verification.hpp"
#include "server/verification/authenticator_enrollment.hpp"

namespace callsign::server {

namespace {
// Tells the user's open dashboards the new enrollment state. Called only after the change and
// its audit entry are committed (durable), like the `verified` notice. Never a secret or code.
void announce(app_context& app, std::string_view user, const storage::authenticator_record& record) {
  if (app.streams != nullptr) {
    app.streams->publish_authenticator(user, authenticator_state(record), app.clock.unix_seconds());
  }
}

enrollment_context enrollment(const app_context& app) {
  return {app.keys, app.config, app.clock, *app.authenticators, *app.marks, *app.counters};
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

handler_result start_route(app_context& app, http_request& request) {
  auto who = caller(app, request, {role::customer});
  if (!who) {
    return who.error();
  }
  if (auto body = optional_body(request, {}); !body) {
    return body.error();
  }
  auto user = eligible_customer(app, *who);
  if (!user) {
    return user.error();
  }
  std::lock_guard lock(app.account_mutex);
  storage::change_set changes;
  auto started =
      start_enrollment(enrollment(app), *user, audit_for(app, *who, request, "authenticator.enroll", user->id), changes);
  if (!started) {
    return started.error();
  }
  auto qr = qr_svg(started->otpauth_uri);
  if (!qr) {
    crypto::secure_wipe(started->otpauth_uri);
    crypto::secure_wipe(started->secret_base32);
    return qr.error();
  }
  if (auto committed = commit_and_wait(app, std::move(changes)); !committed) {
    crypto::secure_wipe(started->otpauth_uri);
    crypto::secure_wipe(started->secret_base32);
    return committed.error();
  }
  announce(app, user->id, started->record);
  json_writer json;
  json.begin_object()
      .field("otpauth_uri", started->otpauth_uri)
      .field("secret", started->secret_base32)
      .field("qr_svg", *qr)
      .field("state", "pending")
      .end_object();
  crypto::secure_wipe(started->otpauth_uri);
  crypto::secure_wipe(started->secret_base32);
  return json_response(201, std::move(json).str());
}

handler_result confirm_route(app_context& app, http_request& request) {
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
    return format.error();
  }
  auto user = eligible_customer(app, *who);
  if (!user) {
    return user.error();
  }
  std::lock_guard lock(app.account_mutex);
  storage::change_set changes;
  auto confirmed = confirm_enrollment(enrollment(app), user->id, *code,
                                      audit_for(app, *who, request, "authenticator.confirm", user->id), changes);
  if (!confirmed) {
    return confirmed.error();
  }
  if (confirmed->status == confirm_status::throttled) {
    return error_response(make_error(error_kind::rate_limited, "too many wrong codes; try again later"))
        .with_header("Retry-After", std::to_string(confirmed->retry_after_seconds));
  }
  if (auto committed = commit_and_wait(app, std::move(changes)); !committed) {
    return committed.error();
  }
  if (confirmed->status == confirm_status::invalid) {
    return make_error(error_kind::rejected, "the code does not match the pending authenticator");
  }
  announce(app, user->id, confirmed->record);
  json_writer json;
  json.begin_object().field("state", "active").field("activated_at", confirmed->record.activated_at).end_object();
  return json_response(200, std::move(json).str());
}

handler_result remove_route(app_context& app, http_request& request) {
  auto who = caller(app, request, {role::customer});
  if (!who) {
    return who.error();
  }
  std::lock_guard lock(app.account_mutex);
  storage::change_set changes;
  auto removed = remove_enrollment(enrollment(app), who->subject,
                                   audit_for(app, *who, request, "authenticator.remove", who->subject), changes);
  if (!removed) {
    return removed.error();
  }
  if (auto committed = commit_and_wait(app, std::move(changes)); !committed) {
    return committed.error();
  }
  announce(app, who->subject, storage::authenticator_record{});
  http_response response;
  response.status = 204;
  response.content_type.clear();
  return response;
}
}  // namespace

void add_authenticator_routes(router& routes, app_context& app) {
  routes.add(http_method::post, "/v1/me/authenticator",
             [&app](http_request& r) { return start_route(app, r); }, route_execution::worker);
  routes.add(http_method::post, "/v1/me/authenticator/confirm",
             [&app](http_request& r) { return confirm_route(app, r); }, route_execution::worker);
  routes.add(http_method::delete_, "/v1/me/authenticator",
             [&app](http_request& r) { return remove_route(app, r); }, route_execution::worker);
}

}  // namespace callsign::server
