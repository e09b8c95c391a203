#include "server/login/login_limits.hpp"

#include <algorithm>
#include <limits>
#include <memory>

#include "crypto/constant_time.hpp"
#include "crypto/credential_hash.hpp"
#include "crypto/hex.hpp"
#include "crypto/hmac_key.hpp"
#include "crypto/key_derivation.hpp"
#include "server/observability/metrics.hpp"
#include "storage/state_key.hpp"

namespace callsign::server {

namespace {
constexpr std::string_view username_hash_label = "callsign login-username";
constexpr std::size_t username_hash_bytes = 16;

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

result<std::string> hash_username(const std::array<std::uint8_t, 32>& key_bytes, std::string_view normalized) {
  auto key = crypto::hmac_key::create(crypto::hash_algorithm::sha256, key_bytes);
  if (!key) return key.error();
  const auto digest = key->sign(
      std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(normalized.data()), normalized.size()));
  return "user:" + crypto::hex_encode(digest.view().first(username_hash_bytes));
}

// How long after a rotation state under the previous key can matter for `rules`: the longest
// window or block of the rules that count usernames.
std::int64_t username_state_horizon_seconds(const std::vector<login_rule>& rules) {
  std::int64_t horizon = 0;
  for (const auto& rule : rules) {
    if (rule.kind != login_key_kind::ip) horizon = std::max({horizon, rule.window_seconds, rule.block_seconds});
  }
  return horizon;
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

result<std::string> normalize_login_username(std::string_view username) {
  // The same normalization the exposed-credential hashes use, so a login matches its pair.
  std::string out = crypto::normalize_username(username);
  if (out.empty() || out.size() > max_login_username) {
    return make_error(error_kind::invalid_input,
                      "field 'username' must be 1 to " + std::to_string(max_login_username) + " bytes after trimming");
  }
  return out;
}

std::string login_metrics::prometheus_text() const {
  std::string out;
  auto counter = [&out](std::string_view name, std::string_view help, std::uint64_t value) {
    append_counter(out, name, help, value);
  };
  counter("callsign_login_failures_total", "Failed logins reported to /v1/login/result.", failures.load());
  counter("callsign_login_successes_total", "Successful logins reported to /v1/login/result.", successes.load());
  counter("callsign_login_blocks_total", "Blocks set by login rules.", blocks_created.load());
  counter("callsign_login_shadow_trips_total", "Failures at or over a shadow rule's limit.", shadow_trips.load());
  counter("callsign_login_blocks_lifted_total", "Blocks lifted by admins.", blocks_lifted.load());
  counter("callsign_login_gate_allowed_total", "Gate answers 204.", gate_allowed.load());
  counter("callsign_login_gate_blocked_total", "Gate answers 429.", gate_blocked.load());
  counter("callsign_login_gate_open_proxy_total", "Gate answers 403 for open proxies.", gate_open_proxy.load());
  counter("callsign_login_gate_rule_blocked_total", "Gate answers 403 because a rule blocked.",
          gate_rule_blocked.load());
  counter("callsign_login_gate_challenged_total", "Gate answers 401 because a rule challenged.",
          gate_challenged.load());
  counter("callsign_login_checks_allowed_total", "Login checks answered without a block or challenge.",
          checks_allowed.load());
  counter("callsign_login_checks_blocked_total", "Login checks answered blocked.", checks_blocked.load());
  counter("callsign_login_checks_challenged_total", "Login checks answered with a challenge.",
          checks_challenged.load());
  counter("callsign_login_open_proxy_matches_total", "Login checks from an address on open_proxies.",
          open_proxy_matches.load());
  counter("callsign_login_exposed_credential_matches_total",
          "Login checks whose credential pair or password is exposed.", exposed_credential_matches.load());
  return out;
}

login_limiter::login_limiter(const login_config& config, const crypto::master_key& master,
                             storage::rate_counters& counters, storage::blocks& blocks)
    : config_(config), counters_(counters), blocks_(blocks) {
  username_hash_key_ = crypto::derive_key(master, username_hash_label, {});
}

login_limiter::login_limiter(const login_config& config, const crypto::key_ring& keys,
                             storage::rate_counters& counters, storage::blocks& blocks)
    : login_limiter(config, keys.current(), counters, blocks) {
  const auto* previous = keys.previous();
  if (previous == nullptr) return;
  // Kept even while no username rule is in force: a rule file installed later may count usernames.
  previous_hash_key_ = crypto::derive_key(*previous, username_hash_label, {});
  rotated_at_seconds_ = std::max<std::int64_t>(keys.current().created_at, 0);
  cover_username_rules(config.rules);
}

void login_limiter::cover_username_rules(const std::vector<login_rule>& rules) noexcept {
  const auto wanted = username_state_horizon_seconds(rules);
  auto horizon = username_horizon_seconds_.load(std::memory_order_relaxed);
  // A maximum, never lowered: installs race only with each other here (compare-exchange).
  while (wanted > horizon &&
         !username_horizon_seconds_.compare_exchange_weak(horizon, wanted, std::memory_order_release,
                                                          std::memory_order_relaxed)) {
  }
}

login_limiter::~login_limiter() {
  crypto::secure_wipe(std::span<std::uint8_t>(username_hash_key_));
  if (previous_hash_key_) crypto::secure_wipe(std::span<std::uint8_t>(*previous_hash_key_));
}

result<std::string> login_limiter::username_key(std::string_view normalized) const {
  return hash_username(username_hash_key_, normalized);
}

result<std::optional<std::string>> login_limiter::previous_username_key(std::string_view normalized,
                                                                         std::int64_t now_ms) const {
  const auto horizon = username_horizon_seconds();
  if (!previous_hash_key_ || horizon == 0) return std::optional<std::string>{};
  // Unknown creation time (a hand-written ring line): always consulted. Seconds are bounded well
  // below overflow (unix time plus config-validated windows), but saturate anyway.
  if (rotated_at_seconds_ > 0) {
    constexpr auto max_seconds = std::numeric_limits<std::int64_t>::max() / 1000;
    const auto until_seconds =
        horizon > max_seconds - rotated_at_seconds_ ? max_seconds : rotated_at_seconds_ + horizon;
    if (now_ms >= until_seconds * 1000) return std::optional<std::string>{};
  }
  auto hashed = hash_username(*previous_hash_key_, normalized);
  if (!hashed) return hashed.error();
  return std::optional<std::string>(std::move(*hashed));
}

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
