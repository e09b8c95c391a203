#include "server/verification/verify_code.hpp"

#include <algorithm>
#include <memory>
#include <vector>

#include "crypto/totp.hpp"
#include "storage/state_key.hpp"

namespace callsign::server {

namespace {
struct code_match {
  std::string_view method;
  std::uint64_t step = 0;
  std::uint32_t key_version = 0;  // phone tokens: the master key version that matched
};

// Compares against every candidate (the previous and current step, under the current key and,
// when the ring has one, the previous key) without stopping early, so timing reveals neither
// which candidate matched nor whether the previous key's overlap is still open.
result<std::optional<code_match>> match_phone_token(const verification_context& ctx, std::string_view user_id,
                                                    std::string_view code, std::int64_t now) {
  const auto& params = ctx.config.phone_token;
  const crypto::master_key& current = ctx.keys.current();
  const crypto::master_key* previous = ctx.keys.previous();
  const bool previous_counts =
      previous_phone_token_key_accepted(ctx.keys, ctx.config.keys.rotation_overlap_seconds, now);
  const auto steps = candidate_steps(crypto::totp_step(params, now), 1, 0);
  auto current_key = phone_token_key(current, user_id, params, ctx.work);
  if (!current_key) {
    return current_key.error();
  }
  const auto equal = compare_code(*current_key, params, steps, code, ctx.work);
  std::vector<bool> equal_previous;
  if (previous != nullptr) {
    auto previous_key = phone_token_key(*previous, user_id, params, ctx.work);
    if (!previous_key) {
      return previous_key.error();
    }
    equal_previous = compare_code(*previous_key, params, steps, code, ctx.work);
  }
  std::optional<code_match> found;
  for (std::size_t i = 0; i < steps.size(); ++i) {
    if (equal[i] && !found) {
      found = code_match{method_phone_token, steps[i], current.version};
    } else if (!equal_previous.empty() && equal_previous[i] && previous_counts && !found) {
      found = code_match{method_phone_token, steps[i], previous->version};
    }
  }
  return found;
}

result<std::optional<code_match>> match_authenticator(const verification_context& ctx,
                                                      const storage::authenticator_record& record,
                                                      std::string_view user_id, std::string_view code, std::int64_t now) {
  if (!record.active_sealed) {
    return std::optional<code_match>{};
  }
  const auto& params = ctx.config.authenticator.params;
  auto key = sealed_secret_key(ctx.keys, *record.active_sealed, user_id, params,
                               "stored authenticator secret cannot be opened", ctx.work);
  if (!key) {
    return key.error();
  }
  const auto steps =
      candidate_steps(crypto::totp_step(params, now), 1, ctx.config.verify.authenticator_steps_ahead);
  auto step = first_matching_step(*key, params, steps, code, ctx.work);
  if (!step) {
    return std::optional<code_match>{};
  }
  return std::optional<code_match>(code_match{method_authenticator, *step, 0});
}

// One verify in flight: what each asynchronous step hands the next. Shared by the steps'
// completions, which may run on other threads; only one step runs at a time.
struct verify_run {
  verification_context ctx;
  const verify_request& request;
  std::int64_t now_ms = 0;
  storage::change_set& changes;
  storage::completion<verify_outcome> done;
  std::optional<storage::user_record> user;
  verify_outcome out;
  std::string subject_key;
  std::optional<code_match> match;
  storage::code_attempt attempt;

  void fail(const error& e);
};

// The entry every attempt journals; the caller adds the outcome and its details.
storage::audit_draft attempt_audit(const verify_run& run) {
  const auto& request = run.request;
  storage::audit_draft audit;
  audit.time = run.now_ms / 1000;
  audit.actor_type = "agent";
  audit.actor_id = request.agent_id;
  audit.action = "verify";
  // The resolved id, or the id the agent named when the lookup itself failed.
  audit.subject = run.out.user ? *run.out.user : request.user_id.value_or("");
  audit.subject_exists = run.user.has_value();  // an unknown id: no per-user copy on other nodes
  audit.source_ip = request.source_ip;
  audit.request_id = request.request_id;
  audit.details.emplace_back("lookup", request.user_id ? "id" : "email");
  if (request.ticket) {
    audit.details.emplace_back("ticket", *request.ticket);
  }
  if (request.reason) {
    audit.details.emplace_back("reason", *request.reason);
  }
  return audit;
}

// A backend failure: the attempt is journaled as "failed" with the error's kind (never its
// message) and answered with the error. What the backend already changed is kept.
void verify_run::fail(const error& e) {
  auto audit = attempt_audit(*this);
  storage::mark_failed_attempt(audit, e);
  changes.add_audit(std::move(audit));
  verify_outcome failed;
  failed.user = out.user;
  failed.failure = e;
  auto finish = std::move(done);
  finish(std::move(failed));
}

void settle(const std::shared_ptr<verify_run>& run);

// The user is known (or known to be absent): every candidate is computed, then the one backend
// operation settles the attempt.
void match_and_settle(const std::shared_ptr<verify_run>& run) {
  const auto now = run->now_ms / 1000;
  const auto& request = run->request;
  // Failures against unknown users are still counted, under the identifier the agent gave.
  run->subject_key = run->out.user ? *run->out.user : "email:" + request.email.value_or("");
  // The phone token is computed even for unknown or ineligible users, so the answer takes
  // the same work whether or not the user exists.
  auto phone = match_phone_token(run->ctx, run->out.user.value_or(run->subject_key), request.code, now);
  if (!phone) {
    run->fail(phone.error());
    return;
  }
  run->match = *phone;
  const bool eligible = run->user && run->user->phone_support;
  if (!eligible || run->match) {
    settle(run);
    return;
  }
  run->ctx.authenticators.find(run->user->id, [run](result<storage::stored_authenticator> found) {
    if (!found) {
      run->fail(found.error());
      return;
    }
    auto app = match_authenticator(run->ctx, found->record, run->user->id, run->request.code, run->now_ms / 1000);
    if (!app) {
      run->fail(app.error());
      return;
    }
    run->match = *app;
    settle(run);
  });
}

void settle(const std::shared_ptr<verify_run>& run) {
  const auto& cfg = run->ctx.config.verify;
  const auto window_ms = cfg.window_seconds * 1000;
  auto& attempt = run->attempt;
  attempt.now_ms = run->now_ms;
  attempt.failures = {
      {verify_user_key(run->subject_key), {cfg.user_failures, window_ms}},
      {verify_agent_key(run->request.agent_id), {cfg.agent_failures, window_ms}},
      {verify_ip_key(run->request.source_ip), {cfg.ip_failures, window_ms}},
  };
  const bool eligible = run->user && run->user->phone_support;
  if (eligible && run->match) {
    attempt.claim = storage::step_claim{run->user->id, std::string(run->match->method), run->match->step};
    // When the step began: a shared backend refuses steps at or before a failover's fence.
    const auto& params = run->match->method == method_phone_token ? run->ctx.config.phone_token
                                                                  : run->ctx.config.authenticator.params;
    attempt.claim->step_start_ms = (params.t0 + static_cast<std::int64_t>(run->match->step) * params.period) * 1000;
  }
  run->ctx.attempts.settle(attempt, run->changes, [run](result<storage::code_attempt_result> settled) {
    if (!settled) {
      run->fail(settled.error());
      return;
    }
    auto& out = run->out;
    storage::audit_draft audit = attempt_audit(*run);
    const bool user_eligible = run->user && run->user->phone_support;
    if (settled->throttled) {
      out.throttled = true;
      out.retry_after_seconds = settled->retry_after_seconds;
      audit.outcome = "throttled";
    } else if (settled->accepted) {
      const auto& match = *run->match;
      out.valid = true;
      out.method = std::string(match.method);
      audit.outcome = "valid";
      audit.details.emplace_back("method", std::string(match.method));
      if (match.method == method_phone_token && match.key_version != run->ctx.keys.current().version) {
        // Accepted during a rotation's overlap: operators can see when the old key is unused.
        audit.details.emplace_back("key_version", std::to_string(match.key_version));
      }
    } else if (settled->replayed) {
      out.replayed = true;
      audit.outcome = "replayed";
    } else {
      audit.outcome = !run->user ? "unknown_user" : !user_eligible ? "not_eligible" : "invalid";
    }
    run->changes.add_audit(std::move(audit));
    auto done = std::move(run->done);
    done(std::move(out));
  });
}
}  // namespace

bool previous_phone_token_key_accepted(const crypto::key_ring& ring, std::int64_t overlap_seconds,
                                       std::int64_t now) noexcept {
  const crypto::master_key& current = ring.current();
  if (ring.previous() == nullptr || current.created_at <= 0 || overlap_seconds <= 0) return false;
  return now < current.created_at + overlap_seconds;
}

std::string verify_user_key(std::string_view user) { return storage::state_key({"verify", "user", user}); }
std::string verify_agent_key(std::string_view agent) { return storage::state_key({"verify", "agent", agent}); }
std::string verify_ip_key(std::string_view ip) { return storage::state_key({"verify", "ip", ip}); }

result<void> check_code_format(std::string_view code, int digits) {
  bool all_digits = std::all_of(code.begin(), code.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (code.size() < 6 || code.size() > 8 || !all_digits || code.size() != static_cast<std::size_t>(digits)) {
    return make_error(error_kind::invalid_input,
                      "field 'code' must be " + std::to_string(digits) + " digits");
  }
  return {};
}

void verify_code(const verification_context& ctx, const verify_request& request, std::int64_t now_ms,
                 storage::change_set& changes, storage::completion<verify_outcome> done) {
  auto run = std::make_shared<verify_run>(
      verify_run{ctx, request, now_ms, changes, std::move(done), std::nullopt, {}, {}, std::nullopt, {}});
  auto found = [run](result<std::optional<storage::stored_user>> user) {
    if (!user) {
      run->fail(user.error());
      return;
    }
    if (*user) {
      run->user = std::move((*user)->record);
      run->out.user = run->user->id;
    } else if (run->request.user_id) {
      run->out.user = *run->request.user_id;  // named by id: counted and audited under it
    }
    match_and_settle(run);
  };
  if (request.user_id) {
    ctx.users.find(*request.user_id, std::move(found));
  } else {
    ctx.users.find_by_email(request.email.value_or(""), std::move(found));
  }
}

}  // namespace callsign::server
