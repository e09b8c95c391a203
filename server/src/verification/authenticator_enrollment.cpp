#include "server/verification/authenticator_enrollment.hpp"

#include <chrono>

#include "crypto/base32.hpp"
#include "crypto/constant_time.hpp"
#include "crypto/otpauth_uri.hpp"
#include "crypto/random_bytes.hpp"
#include "crypto/sealed_box.hpp"
#include "server/verification.hpp"
#include "storage/state_key.hpp"

namespace callsign::server {

namespace {
constexpr std::size_t secret_bytes = 20;  // 160 bits, RFC 4226's recommendation

std::int64_t unix_ms(const storage::clock& clock) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(clock.now().time_since_epoch()).count();
}
}  // namespace

std::string confirm_user_key(std::string_view user) {
  return storage::state_key({"confirm", "user", user});
}

result<enrollment_started> start_enrollment(const enrollment_context& ctx, const storage::user_record& user,
                                            storage::audit_draft audit, storage::change_set& changes) {
  crypto::otpauth_params otp;
  otp.issuer = ctx.config.authenticator.issuer;
  otp.account = user.email;
  otp.algorithm = ctx.config.authenticator.params.algorithm;
  otp.digits = ctx.config.authenticator.params.digits;
  otp.period = ctx.config.authenticator.params.period;
  otp.secret.resize(secret_bytes);
  if (auto filled = crypto::random_bytes(otp.secret); !filled) {
    return filled.error();
  }
  auto sealed = crypto::seal_with_ring(ctx.keys, otp.secret, user.id);
  if (!sealed) {
    crypto::secure_wipe(otp.secret);
    return sealed.error();
  }
  enrollment_started started;
  started.secret_base32 = crypto::base32_encode(otp.secret);
  started.otpauth_uri = crypto::make_otpauth_uri(otp);
  crypto::secure_wipe(otp.secret);

  auto record = ctx.authenticators.find(user.id);
  if (!record) {
    return record.error();
  }
  record->pending_sealed = std::move(*sealed);
  record->pending_since = ctx.clock.unix_seconds();
  ctx.authenticators.stage_put(user.id, *record, changes);
  audit.outcome = "pending";
  changes.add_audit(std::move(audit));
  started.record = std::move(*record);
  return started;
}

result<confirm_outcome> confirm_enrollment(const enrollment_context& ctx, std::string_view user_id,
                                           std::string_view code, storage::audit_draft audit,
                                           storage::change_set& changes) {
  const auto now_ms = unix_ms(ctx.clock);
  const auto now = now_ms / 1000;
  const storage::rate_limit limit{ctx.config.verify.user_failures, ctx.config.verify.window_seconds * 1000};
  const auto throttle_key = confirm_user_key(user_id);
  confirm_outcome out;
  auto estimate = ctx.counters.estimate(throttle_key, now_ms, limit);
  if (!estimate) {
    return estimate.error();
  }
  if (storage::over_limit(*estimate)) {
    out.status = confirm_status::throttled;
    out.retry_after_seconds = storage::retry_after_seconds(*estimate);
    return out;
  }

  auto record = ctx.authenticators.find(user_id);
  if (!record) {
    return record.error();
  }
  if (!record->pending_sealed) {
    return make_error(error_kind::conflict, "no authenticator enrollment is pending");
  }
  const auto& params = ctx.config.authenticator.params;
  auto key = sealed_secret_key(ctx.keys, *record->pending_sealed, user_id, params,
                               "pending authenticator secret cannot be opened", ctx.work);
  if (!key) {
    return key.error();
  }
  const auto steps = candidate_steps(crypto::totp_step(params, now), 1, ctx.config.verify.authenticator_steps_ahead);
  const auto step = first_matching_step(*key, params, steps, code, ctx.work);
  if (!step) {
    if (auto added = ctx.counters.add(throttle_key, 1, now_ms, limit, changes); !added) {
      return added.error();
    }
    audit.outcome = "invalid";
    changes.add_audit(std::move(audit));
    out.status = confirm_status::invalid;
    return out;
  }
  // The confirming code is used up. The replay history belongs to (user, method), not to one
  // secret: a step an earlier authenticator used stays used, so this claim may find its step
  // taken already, which leaves the code used up all the same.
  if (auto claimed = ctx.marks.claim(user_id, method_authenticator, *step, changes); !claimed) {
    return claimed.error();
  }
  record->active_sealed = std::move(record->pending_sealed);
  record->pending_sealed.reset();
  record->activated_at = now;
  record->pending_since = 0;
  ctx.authenticators.stage_put(user_id, *record, changes);
  audit.outcome = "active";
  changes.add_audit(std::move(audit));
  out.status = confirm_status::active;
  out.record = std::move(*record);
  return out;
}

result<void> remove_enrollment(const enrollment_context& ctx, std::string_view user_id, storage::audit_draft audit,
                               storage::change_set& changes) {
  auto record = ctx.authenticators.find(user_id);
  if (!record) {
    return record.error();
  }
  if (record->empty()) {
    return make_error(error_kind::not_found, "no authenticator is enrolled");
  }
  ctx.authenticators.stage_put(user_id, storage::authenticator_record{}, changes);
  audit.outcome = "removed";
  changes.add_audit(std::move(audit));
  return {};
}

}  // namespace callsign::server
