#include <algorithm>
#include <array>
#include <vector>

#include "crypto/totp.hpp"
#include "server/verification.hpp"
#include "storage/read_policy.hpp"
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

result<std::optional<code_match>> match_authenticator(const verification_context& ctx, std::string_view user_id,
                                                      std::string_view code, std::int64_t now) {
  auto record = ctx.authenticators.find(user_id);
  if (!record) {
    return record.error();
  }
  if (!record->active_sealed) {
    return std::optional<code_match>{};
  }
  const auto& params = ctx.config.authenticator.params;
  auto key = sealed_secret_key(ctx.keys, *record->active_sealed, user_id, params,
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

result<verify_outcome> verify_code(const verification_context& ctx, const verify_request& request,
                                   std::int64_t now_ms, storage::change_set& changes) {
  const auto now = now_ms / 1000;
  const auto window_ms = ctx.config.verify.window_seconds * 1000;
  verify_outcome out;

  std::optional<storage::user_record> user;
  if (request.user_id) {
    auto found = ctx.users.find(*request.user_id);
    if (!found) {
      return found.error();
    }
    user = std::move(*found);
    out.user = *request.user_id;
  } else {
    auto found = ctx.users.find_by_email(request.email.value_or(""));
    if (!found) {
      return found.error();
    }
    user = std::move(*found);
    if (user) {
      out.user = user->id;
    }
  }
  // Failures against unknown users are still counted, under the identifier the agent gave.
  const std::string subject_key = out.user ? *out.user : "email:" + request.email.value_or("");

  const std::array<std::pair<std::string, std::int64_t>, 3> limits = {{
      {verify_user_key(subject_key), ctx.config.verify.user_failures},
      {verify_agent_key(request.agent_id), ctx.config.verify.agent_failures},
      {verify_ip_key(request.source_ip), ctx.config.verify.ip_failures},
  }};

  storage::audit_draft audit;
  audit.time = now;
  audit.actor_type = "agent";
  audit.actor_id = request.agent_id;
  audit.action = "verify";
  audit.subject = out.user.value_or("");
  audit.source_ip = request.source_ip;
  audit.request_id = request.request_id;
  audit.details.emplace_back("lookup", request.user_id ? "id" : "email");
  if (request.ticket) {
    audit.details.emplace_back("ticket", *request.ticket);
  }
  if (request.reason) {
    audit.details.emplace_back("reason", *request.reason);
  }

  for (const auto& [key, limit] : limits) {
    auto estimate = ctx.counters.estimate(key, now_ms, {limit, window_ms});
    if (!estimate) {
      return estimate.error();
    }
    if (storage::over_limit(*estimate)) {
      out.throttled = true;
      out.retry_after_seconds = std::max(out.retry_after_seconds, storage::retry_after_seconds(*estimate));
    }
  }
  if (out.throttled) {
    audit.outcome = "throttled";
    changes.add_audit(std::move(audit));
    return out;
  }

  // The phone token is computed even for unknown or ineligible users, so the answer takes
  // the same work whether or not the user exists.
  const bool eligible = user && user->phone_support;
  std::string compute_id = out.user.value_or(subject_key);
  auto phone = match_phone_token(ctx, compute_id, request.code, now);
  if (!phone) {
    return phone.error();
  }
  auto match = *phone;
  if (eligible && !match) {
    auto app = match_authenticator(ctx, user->id, request.code, now);
    if (!app) {
      return app.error();
    }
    match = *app;
  }

  std::string outcome = !user ? "unknown_user" : !eligible ? "not_eligible" : "invalid";
  if (eligible && match) {
    auto claimed = ctx.marks.claim(user->id, match->method, match->step, changes);
    if (!claimed) {
      return claimed.error();
    }
    if (*claimed) {
      out.valid = true;
      out.method = std::string(match->method);
      outcome = "valid";
      audit.details.emplace_back("method", std::string(match->method));
      if (match->method == method_phone_token && match->key_version != ctx.keys.current().version) {
        // Accepted during a rotation's overlap: operators can see when the old key is unused.
        audit.details.emplace_back("key_version", std::to_string(match->key_version));
      }
    } else {
      outcome = "replayed";
    }
  }
  if (!out.valid) {
    // The first add changes memory and the change set, so from here the request may not be
    // run again (storage/read_policy.hpp): its keys were loaded by the estimates above, and if
    // one was swept meanwhile, its reload may wait for the disk.
    storage::blocking_reads_allowed may_wait;
    for (const auto& [key, limit] : limits) {
      auto added = ctx.counters.add(key, 1, now_ms, {limit, window_ms}, changes);
      if (!added) {
        return added.error();
      }
    }
  }
  audit.outcome = outcome;
  changes.add_audit(std::move(audit));
  return out;
}

}  // namespace callsign::server
