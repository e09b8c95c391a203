#include "server/verification/authenticator_enrollment.hpp"

#include <chrono>
#include <memory>

#include "crypto/base32.hpp"
#include "crypto/constant_time.hpp"
#include "crypto/otpauth_uri.hpp"
#include "crypto/random_bytes.hpp"
#include "crypto/sealed_box.hpp"
#include "server/verification/verify_code.hpp"
#include "storage/state_key.hpp"

namespace callsign::server {

namespace {
constexpr std::size_t secret_bytes = 20;  // 160 bits, RFC 4226's recommendation

}  // namespace

std::string confirm_user_key(std::string_view user) {
  return storage::state_key({"confirm", "user", user});
}

void start_enrollment(const enrollment_context& ctx, const storage::user_record& user, storage::audit_draft audit,
                      storage::change_set& changes, storage::completion<enrollment_started> done) {
  crypto::otpauth_params otp;
  otp.issuer = ctx.config.authenticator.issuer;
  otp.account = user.email;
  otp.algorithm = ctx.config.authenticator.params.algorithm;
  otp.digits = ctx.config.authenticator.params.digits;
  otp.period = ctx.config.authenticator.params.period;
  otp.secret.resize(secret_bytes);
  if (auto filled = crypto::random_bytes(otp.secret); !filled) {
    done(filled.error());
    return;
  }
  auto sealed = crypto::seal_with_ring(ctx.keys, otp.secret, user.id);
  if (!sealed) {
    crypto::secure_wipe(otp.secret);
    done(sealed.error());
    return;
  }
  enrollment_started started;
  started.secret_base32 = crypto::base32_encode(otp.secret);
  started.otpauth_uri = crypto::make_otpauth_uri(otp);
  crypto::secure_wipe(otp.secret);
  const auto now = ctx.clock.unix_seconds();
  ctx.authenticators.find(user.id, [&changes, now, sealed = std::move(*sealed), audit = std::move(audit),
                                    started = std::move(started),
                                    done = std::move(done)](result<storage::stored_authenticator> found) mutable {
    if (!found) {
      crypto::secure_wipe(started.otpauth_uri);
      crypto::secure_wipe(started.secret_base32);
      done(found.error());
      return;
    }
    started.write.record = std::move(found->record);
    started.write.record.pending_sealed = std::move(sealed);
    started.write.record.pending_since = now;
    started.write.expected_version = found->version;
    audit.outcome = "pending";
    changes.add_audit(std::move(audit));
    done(std::move(started));
  });
}

namespace {
struct confirm_run {
  enrollment_context ctx;  // a copy: references to backends that outlive the call
  std::string user_id;
  std::string code;
  storage::audit_draft audit;
  storage::change_set& changes;
  storage::completion<confirm_outcome> done;
  std::int64_t now_ms = 0;
  storage::stored_authenticator found;
  storage::code_attempt attempt;

  ~confirm_run() { crypto::secure_wipe(code); }

  // The backend failed: the attempt is staged as "failed" and answered with the error.
  void fail(const error& e) {
    storage::mark_failed_attempt(audit, e);
    changes.add_audit(std::move(audit));
    confirm_outcome out;
    out.status = confirm_status::failed;
    out.failure = e;
    done(std::move(out));
  }
};

void settle_confirm(const std::shared_ptr<confirm_run>& run, std::optional<std::uint64_t> step) {
  const auto& cfg = run->ctx.config.verify;
  run->attempt.now_ms = run->now_ms;
  run->attempt.failures = {{confirm_user_key(run->user_id), {cfg.user_failures, cfg.window_seconds * 1000}}};
  if (step) {
    run->attempt.claim = storage::step_claim{run->user_id, std::string(method_authenticator), *step};
    const auto& params = run->ctx.config.authenticator.params;
    run->attempt.claim->step_start_ms = (params.t0 + static_cast<std::int64_t>(*step) * params.period) * 1000;
  }
  run->ctx.attempts.settle(run->attempt, run->changes, [run, matched = step.has_value()](
                                                          result<storage::code_attempt_result> settled) {
    if (!settled) {
      run->fail(settled.error());
      return;
    }
    confirm_outcome out;
    if (settled->throttled) {
      run->audit.outcome = "throttled";
      run->changes.add_audit(std::move(run->audit));
      out.status = confirm_status::throttled;
      out.retry_after_seconds = settled->retry_after_seconds;
      run->done(std::move(out));
      return;
    }
    if (!matched) {
      run->audit.outcome = "invalid";
      run->changes.add_audit(std::move(run->audit));
      out.status = confirm_status::invalid;
      run->done(std::move(out));
      return;
    }
    auto record = std::move(run->found.record);
    record.active_sealed = std::move(record.pending_sealed);
    record.pending_sealed.reset();
    record.activated_at = run->now_ms / 1000;
    record.pending_since = 0;
    run->audit.outcome = "active";
    run->changes.add_audit(std::move(run->audit));
    out.status = confirm_status::active;
    out.write = enrollment_write{std::move(record), run->found.version};
    run->done(std::move(out));
  });
}
}  // namespace

void confirm_enrollment(const enrollment_context& ctx, std::string_view user_id, std::string_view code,
                        storage::audit_draft audit, storage::change_set& changes,
                        storage::completion<confirm_outcome> done) {
  auto run = std::make_shared<confirm_run>(
      confirm_run{ctx, std::string(user_id), std::string(code), std::move(audit), changes, std::move(done), 0, {}, {}});
  run->now_ms = ctx.clock.unix_ms();
  ctx.authenticators.find(user_id, [run](result<storage::stored_authenticator> found) {
    if (!found) {
      run->fail(found.error());
      return;
    }
    if (!found->record.pending_sealed) {
      run->done(make_error(error_kind::conflict, "no authenticator enrollment is pending"));
      return;
    }
    run->found = std::move(*found);
    const auto& params = run->ctx.config.authenticator.params;
    auto key = sealed_secret_key(run->ctx.keys, *run->found.record.pending_sealed, run->user_id, params,
                                 "pending authenticator secret cannot be opened", run->ctx.work);
    if (!key) {
      run->fail(key.error());
      return;
    }
    const auto steps = candidate_steps(crypto::totp_step(params, run->now_ms / 1000), 1,
                                       run->ctx.config.verify.authenticator_steps_ahead);
    settle_confirm(run, first_matching_step(*key, params, steps, run->code, run->ctx.work));
  });
}

void remove_enrollment(const enrollment_context& ctx, std::string_view user_id, storage::audit_draft audit,
                       storage::change_set& changes, storage::completion<enrollment_write> done) {
  ctx.authenticators.find(user_id, [&changes, audit = std::move(audit),
                                    done = std::move(done)](result<storage::stored_authenticator> found) mutable {
    if (!found) {
      done(found.error());
      return;
    }
    if (found->record.empty()) {
      done(make_error(error_kind::not_found, "no authenticator is enrolled"));
      return;
    }
    audit.outcome = "removed";
    changes.add_audit(std::move(audit));
    done(enrollment_write{storage::authenticator_record{}, found->version});
  });
}

}  // namespace callsign::server
