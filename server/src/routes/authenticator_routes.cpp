// Authenticator-app enrollment for customers:
//   POST /v1/me/authenticator          start (or restart) enrollment: otpauth URI, secret, QR
//   POST /v1/me/authenticator/confirm  {"code"} activates the pending secret
//   DELETE /v1/me/authenticator        removes it
// Secrets are stored only sealed (AES-256-GCM, associated data = user id).
#include <array>

#include "crypto/base32.hpp"
#include "crypto/constant_time.hpp"
#include "crypto/hmac_key.hpp"
#include "crypto/otpauth_uri.hpp"
#include "crypto/random_bytes.hpp"
#include "crypto/sealed_box.hpp"
#include "crypto/totp.hpp"
#include "routes/route_support.hpp"
#include "routes/user_json.hpp"
#include "server/json_body.hpp"
#include "server/problem.hpp"
#include "server/json_writer.hpp"
#include "server/qr_svg.hpp"
#include "server/routes.hpp"
#include "server/stream_hub.hpp"
#include "server/verification.hpp"
#include "storage/state_key.hpp"

namespace callsign::server {

namespace {
constexpr std::size_t secret_bytes = 20;  // 160 bits, RFC 4226's recommendation

// Tells the user's open dashboards the new enrollment state. Called only after the change and
// its audit entry are committed (durable), like the `verified` notice. Never a secret or code.
void announce(app_context& app, std::string_view user, const storage::authenticator_record& record) {
  if (app.streams != nullptr) {
    app.streams->publish_authenticator(user, authenticator_state(record), app.clock.unix_seconds());
  }
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

handler_result start_enrollment(app_context& app, http_request& request) {
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
  crypto::otpauth_params otp;
  otp.issuer = app.config.authenticator.issuer;
  otp.account = user->email;
  otp.algorithm = app.config.authenticator.params.algorithm;
  otp.digits = app.config.authenticator.params.digits;
  otp.period = app.config.authenticator.params.period;
  otp.secret.resize(secret_bytes);
  if (auto filled = crypto::random_bytes(otp.secret); !filled) {
    return filled.error();
  }
  auto sealed = crypto::seal_with_ring(app.keys, otp.secret, user->id);
  if (!sealed) {
    crypto::secure_wipe(otp.secret);
    return sealed.error();
  }
  std::string secret_text = crypto::base32_encode(otp.secret);
  std::string uri = crypto::make_otpauth_uri(otp);
  crypto::secure_wipe(otp.secret);
  auto qr = qr_svg(uri);
  if (!qr) {
    return qr.error();
  }

  std::lock_guard lock(app.account_mutex);
  auto record = app.authenticators->find(user->id);
  if (!record) {
    return record.error();
  }
  record->pending_sealed = std::move(*sealed);
  record->pending_since = app.clock.unix_seconds();
  storage::change_set changes;
  app.authenticators->stage_put(user->id, *record, changes);
  auto audit = audit_for(app, *who, request, "authenticator.enroll", user->id);
  audit.outcome = "pending";
  changes.add_audit(std::move(audit));
  if (auto committed = commit_and_wait(app, std::move(changes)); !committed) {
    return committed.error();
  }
  announce(app, user->id, *record);
  json_writer json;
  json.begin_object()
      .field("otpauth_uri", uri)
      .field("secret", secret_text)
      .field("qr_svg", *qr)
      .field("state", "pending")
      .end_object();
  crypto::secure_wipe(uri);
  crypto::secure_wipe(secret_text);
  return json_response(201, std::move(json).str());
}

// The step the code belongs to, or nullopt. Compares every candidate without stopping early.
result<std::optional<std::uint64_t>> match_pending(const app_context& app, const std::string& sealed,
                                                   std::string_view user_id, std::string_view code) {
  auto secret = crypto::open_with_ring(app.keys, sealed, user_id);
  if (!secret) {
    return make_error(error_kind::internal, "pending authenticator secret cannot be opened");
  }
  const auto& params = app.config.authenticator.params;
  auto key = crypto::hmac_key::create(params.algorithm, *secret);
  crypto::secure_wipe(std::span<std::uint8_t>(*secret));
  if (!key) {
    return key.error();
  }
  auto current = crypto::totp_step(params, app.clock.unix_seconds());
  std::optional<std::uint64_t> found;
  for (int offset = -1; offset <= app.config.verify.authenticator_steps_ahead; ++offset) {
    if (offset < 0 && current == 0) {
      continue;
    }
    auto step = offset < 0 ? current - 1 : current + static_cast<std::uint64_t>(offset);
    auto expected = crypto::totp_code_at_step(*key, params, step);
    bool equal = crypto::constant_time_equal(std::string_view(expected), code);
    crypto::secure_wipe(expected);
    if (equal && !found) {
      found = step;
    }
  }
  return found;
}

handler_result confirm_enrollment(app_context& app, http_request& request) {
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
  const auto now = now_ms(app);
  const auto window_ms = app.config.verify.window_seconds * 1000;
  const storage::rate_limit limit{app.config.verify.user_failures, window_ms};
  const auto throttle_key = storage::state_key({"confirm", "user", user->id});
  auto estimate = app.counters->estimate(throttle_key, now, limit);
  if (!estimate) {
    return estimate.error();
  }
  if (storage::over_limit(*estimate)) {
    return error_response(make_error(error_kind::rate_limited, "too many wrong codes; try again later"))
        .with_header("Retry-After", std::to_string(storage::retry_after_seconds(*estimate)));
  }

  std::lock_guard lock(app.account_mutex);
  auto record = app.authenticators->find(user->id);
  if (!record) {
    return record.error();
  }
  if (!record->pending_sealed) {
    return make_error(error_kind::conflict, "no authenticator enrollment is pending");
  }
  auto step = match_pending(app, *record->pending_sealed, user->id, *code);
  if (!step) {
    return step.error();
  }
  storage::change_set changes;
  auto audit = audit_for(app, *who, request, "authenticator.confirm", user->id);
  if (!*step) {
    if (auto added = app.counters->add(throttle_key, 1, now, limit, changes); !added) {
      return added.error();
    }
    audit.outcome = "invalid";
    changes.add_audit(std::move(audit));
    if (auto committed = commit_and_wait(app, std::move(changes)); !committed) {
      return committed.error();
    }
    return make_error(error_kind::rejected, "the code does not match the pending authenticator");
  }
  // The confirming code is used up. The replay history belongs to (user, method), not to one
  // secret: a step an earlier authenticator used stays used, so this claim may find its step
  // taken already, which leaves the code used up all the same.
  if (auto claimed = app.marks->claim(user->id, method_authenticator, **step, changes); !claimed) {
    return claimed.error();
  }
  record->active_sealed = std::move(record->pending_sealed);
  record->pending_sealed.reset();
  record->activated_at = app.clock.unix_seconds();
  record->pending_since = 0;
  app.authenticators->stage_put(user->id, *record, changes);
  audit.outcome = "active";
  changes.add_audit(std::move(audit));
  if (auto committed = commit_and_wait(app, std::move(changes)); !committed) {
    return committed.error();
  }
  announce(app, user->id, *record);
  json_writer json;
  json.begin_object().field("state", "active").field("activated_at", record->activated_at).end_object();
  return json_response(200, std::move(json).str());
}

handler_result remove_authenticator(app_context& app, http_request& request) {
  auto who = caller(app, request, {role::customer});
  if (!who) {
    return who.error();
  }
  std::lock_guard lock(app.account_mutex);
  auto record = app.authenticators->find(who->subject);
  if (!record) {
    return record.error();
  }
  if (record->empty()) {
    return make_error(error_kind::not_found, "no authenticator is enrolled");
  }
  storage::change_set changes;
  app.authenticators->stage_put(who->subject, storage::authenticator_record{}, changes);
  auto audit = audit_for(app, *who, request, "authenticator.remove", who->subject);
  audit.outcome = "removed";
  changes.add_audit(std::move(audit));
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
             [&app](http_request& r) { return start_enrollment(app, r); }, route_execution::worker);
  routes.add(http_method::post, "/v1/me/authenticator/confirm",
             [&app](http_request& r) { return confirm_enrollment(app, r); }, route_execution::worker);
  routes.add(http_method::delete_, "/v1/me/authenticator",
             [&app](http_request& r) { return remove_authenticator(app, r); }, route_execution::worker);
}

}  // namespace callsign::server
