// login_limiter: the keyed hash of usernames (under the current key version, and the previous
// one for as long as state made under it can be live after a rotation), the username
// normalization, and the login metrics' text. The plans and checks over it: login_limits.cpp.
#include "server/login/login_limits.hpp"

#include <algorithm>
#include <limits>

#include "crypto/constant_time.hpp"
#include "crypto/credential_hash.hpp"
#include "crypto/hex.hpp"
#include "crypto/hmac_key.hpp"
#include "crypto/key_derivation.hpp"
#include "server/observability/metrics.hpp"

namespace callsign::server {

namespace {
constexpr std::string_view username_hash_label = "callsign login-username";
constexpr std::size_t username_hash_bytes = 16;

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

}  // namespace callsign::server
