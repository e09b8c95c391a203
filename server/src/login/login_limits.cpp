// The failed-login limits over login_limiter (login_limiter.cpp): block keys, the check of an
// attempt's blocks, the plan of a reported outcome for the backend, and which counters a rule
// field reads.
#include "server/login/login_limits.hpp"

#include <algorithm>
#include <memory>

#include "storage/state_key.hpp"

namespace callsign::server {

namespace {

std::string counter_key(const login_rule& rule, std::string_view block_key) {
  return storage::state_key({"login", rule.name, block_key});
}

// Every block key that applies to an attempt, for the kinds that can be formed; with a username
// hashed under the previous key version too while that version's blocks can still be live.
std::vector<std::string> attempt_keys(const ip_address& address, const std::optional<std::string>& user_key,
                                      const std::optional<std::string>& previous_user_key = std::nullopt) {
  std::vector<std::string> keys{login_block_key(login_key_kind::ip, address, {})};
  for (const auto* hashed : {&user_key, &previous_user_key}) {
    if (*hashed) {
      keys.push_back(login_block_key(login_key_kind::username, address, **hashed));
      keys.push_back(login_block_key(login_key_kind::ip_username, address, **hashed));
    }
  }
  return keys;
}

login_check check_from_blocks(const std::vector<std::string>& keys,
                              const std::vector<std::optional<storage::block_entry>>& active, std::int64_t now_ms) {
  login_check out;
  std::int64_t latest_until = 0;
  for (std::size_t i = 0; i < keys.size() && i < active.size(); ++i) {
    const auto& found = active[i];
    if (found && found->until_ms > latest_until) {
      latest_until = found->until_ms;
      out.blocked = true;
      out.retry_after_seconds = found->retry_after_seconds(now_ms);
      out.matched_key = keys[i];
      out.rule = found->rule;
    }
  }
  return out;
}

result<login_check> check_keys(const login_limiter& limiter, const std::vector<std::string>& keys,
                               std::int64_t now_ms) {
  std::vector<std::optional<storage::block_entry>> active;
  for (const auto& key : keys) {
    auto found = limiter.blocks().find(key, now_ms);
    if (!found) return found.error();
    active.push_back(std::move(*found));
  }
  return check_from_blocks(keys, active, now_ms);
}
}  // namespace

std::string login_block_key(login_key_kind kind, const ip_address& address, std::string_view user_key) {
  const auto group = login_group(address);
  std::string ip = address.v6 ? to_string(group) : to_string(group.base);
  switch (kind) {
    case login_key_kind::ip:
      return ip;
    case login_key_kind::username:
      return std::string(user_key);
    case login_key_kind::ip_username:
      return ip + "+" + std::string(user_key);
  }
  return ip;
}

std::string_view login_block_kind(std::string_view key) noexcept {
  if (key.starts_with("user:")) return login_key_kind_name(login_key_kind::username);
  if (key.find("+user:") != std::string_view::npos) return login_key_kind_name(login_key_kind::ip_username);
  return login_key_kind_name(login_key_kind::ip);
}

std::string login_block_key_from_admin_input(std::string_view input) {
  if (auto address = parse_ip_address(input)) {
    return login_block_key(login_key_kind::ip, *address, {});
  }
  if (auto network = parse_ip_network(input); network && network->base.v6 && network->prefix == 64) {
    return to_string(*network);
  }
  return std::string(input);
}

result<login_check> check_login(const login_limiter& limiter, const ip_address& address,
                                std::optional<std::string_view> normalized_username, std::int64_t now_ms) {
  std::optional<std::string> user_key;
  std::optional<std::string> previous_user_key;
  if (normalized_username) {
    auto hashed = limiter.username_key(*normalized_username);
    if (!hashed) return hashed.error();
    user_key = std::move(*hashed);
    auto previous = limiter.previous_username_key(*normalized_username, now_ms);
    if (!previous) return previous.error();
    previous_user_key = std::move(*previous);
  }
  auto checked = check_keys(limiter, attempt_keys(address, user_key, previous_user_key), now_ms);
  if (checked && user_key) checked->user_key = std::move(*user_key);
  if (checked && previous_user_key) checked->previous_user_key = std::move(*previous_user_key);
  return checked;
}

result<login_result_plan> plan_login_result(const login_limiter& limiter, const ip_address& address,
                                           std::string_view normalized_username, bool success, std::int64_t now_ms) {
  return plan_login_result(limiter, login_rate_rules{&limiter.config().rules, nullptr}, address, normalized_username,
                           login_outcome{success, 0}, now_ms);
}

login_rule login_rule_of(const rules::rate_limit_source& source) {
  login_rule rule;
  rule.name = source.id;
  switch (source.by) {
    case rules::characteristic::ip:
      rule.kind = login_key_kind::ip;
      break;
    case rules::characteristic::username:
      rule.kind = login_key_kind::username;
      break;
    case rules::characteristic::ip_username:
      rule.kind = login_key_kind::ip_username;
      break;
  }
  rule.limit = source.limit;
  rule.window_seconds = source.period_seconds;
  rule.block_seconds = source.mitigation_timeout_seconds;
  rule.shadow = source.shadow;
  return rule;
}

result<login_result_plan> plan_login_result(const login_limiter& limiter, const login_rate_rules& rate_rules,
                                           const ip_address& address, std::string_view normalized_username,
                                           const login_outcome& outcome, std::int64_t now_ms) {
  auto hashed = limiter.username_key(normalized_username);
  if (!hashed) return hashed.error();
  auto previous = limiter.previous_username_key(normalized_username, now_ms);
  if (!previous) return previous.error();
  login_result_plan plan;
  plan.user_key = std::move(*hashed);
  plan.success = outcome.success;
  plan.attempt.now_ms = now_ms;
  plan.attempt.check_keys = attempt_keys(address, plan.user_key, *previous);
  rules::request_fields fields;
  if (rate_rules.counting != nullptr) {
    fields.ip_src = address;
    fields.username_present = true;
    fields.login_success = outcome.success;
    fields.response_code = outcome.response_code;
  }
  const auto& rules = *rate_rules.rules;
  for (std::size_t i = 0; i < rules.size(); ++i) {
    const auto& rule = rules[i];
    const bool counts = rate_rules.counting != nullptr ? rate_rules.counting->counts(i, fields) : !outcome.success;
    if (!counts) continue;
    storage::login_rule_step step;
    step.rule = rule.name;
    step.block_key = login_block_key(rule.kind, address, plan.user_key);
    step.counter_key = counter_key(rule, step.block_key);
    step.limit = {rule.limit, rule.window_seconds * 1000};
    step.block_until_ms = now_ms + rule.block_seconds * 1000;
    step.shadow = rule.shadow;
    // Across a rotation, the same username's failures counted under the previous key.
    if (*previous && rule.kind != login_key_kind::ip) {
      step.previous_block_key = login_block_key(rule.kind, address, **previous);
      step.previous_counter_key = counter_key(rule, *step.previous_block_key);
    }
    plan.attempt.rules.push_back(std::move(step));
  }
  // The backend changes counters only for a counted outcome ("failure" in its terms).
  plan.attempt.failure = !plan.attempt.rules.empty();
  return plan;
}

std::optional<storage::count_read> login_count_read(const login_rate_rules& rate_rules, login_key_kind kind,
                                                    const ip_address& address,
                                                    std::optional<std::string_view> user_key) {
  if (kind == login_key_kind::username && !user_key) return std::nullopt;
  for (const auto& rule : *rate_rules.rules) {
    if (rule.kind != kind) continue;
    return storage::count_read{counter_key(rule, login_block_key(kind, address, user_key.value_or(""))),
                               {rule.limit, rule.window_seconds * 1000}};
  }
  return std::nullopt;
}

login_result_outcome read_login_result(const login_limiter& limiter, const login_result_plan& plan,
                                       const storage::login_attempt_result& settled) {
  login_result_outcome out;
  out.user_key = plan.user_key;
  auto& metrics = limiter.metrics();
  (plan.success ? metrics.successes : metrics.failures).fetch_add(1, std::memory_order_relaxed);
  for (std::size_t i = 0; i < settled.counts.size() && i < plan.attempt.rules.size(); ++i) {
    const auto& rule = plan.attempt.rules[i];
    if (settled.counts[i].tripped && rule.shadow) {
      metrics.shadow_trips.fetch_add(1, std::memory_order_relaxed);
      out.shadow_trips.push_back({rule.rule, rule.block_key, settled.counts[i].failures});
    }
  }
  metrics.blocks_created.fetch_add(settled.started.size(), std::memory_order_relaxed);
  out.newly_blocked = settled.started;
  out.state = check_from_blocks(plan.attempt.check_keys, settled.active, plan.attempt.now_ms);
  return out;
}

void record_login_result(const login_limiter& limiter, storage::login_attempts& attempts, const ip_address& address,
                         std::string_view normalized_username, bool success, std::int64_t now_ms,
                         storage::change_set& changes, storage::completion<login_result_outcome> done) {
  record_login_result(limiter, login_rate_rules{&limiter.config().rules, nullptr}, attempts, address,
                      normalized_username, login_outcome{success, 0}, now_ms, changes, std::move(done));
}

void record_login_result(const login_limiter& limiter, const login_rate_rules& rate_rules,
                         storage::login_attempts& attempts, const ip_address& address,
                         std::string_view normalized_username, const login_outcome& outcome, std::int64_t now_ms,
                         storage::change_set& changes, storage::completion<login_result_outcome> done) {
  auto planned = plan_login_result(limiter, rate_rules, address, normalized_username, outcome, now_ms);
  if (!planned) {
    done(planned.error());
    return;
  }
  // The backend reads the attempt until it answers, which may be later and on another thread.
  auto plan = std::make_shared<login_result_plan>(std::move(*planned));
  attempts.record(plan->attempt, changes,
                  [&limiter, plan, done = std::move(done)](result<storage::login_attempt_result> settled) {
                    if (!settled) {
                      done(settled.error());
                      return;
                    }
                    done(read_login_result(limiter, *plan, *settled));
                  });
}

}  // namespace callsign::server
