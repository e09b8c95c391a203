// Failed-login rate limits as plain functions over rate_counters and blocks: a front-end
// reports each login outcome (record_login_result), and asks before a login whether the
// address or username is blocked (check_login). docs/login-limits.md.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/key_ring.hpp"
#include "crypto/result.hpp"
#include "rules/rule_set.hpp"
#include "server/login/ip_address.hpp"
#include "server/login/login_config.hpp"
#include "storage/blocks.hpp"
#include "storage/change_set.hpp"
#include "storage/completion.hpp"
#include "storage/login_attempts.hpp"
#include "storage/login_counts.hpp"
#include "storage/rate_counters.hpp"

namespace callsign::server {

// Usernames longer than this (after trimming) are refused.
inline constexpr std::size_t max_login_username = 256;

// Trims ASCII whitespace and lower-cases ASCII letters (other bytes are kept as they are);
// invalid_input when the result is empty or too long. The same normalization as the
// exposed-credential hashes (issue 5).
result<std::string> normalize_login_username(std::string_view username);

// Counts for /metrics. Thread-safety: atomics, relaxed.
struct login_metrics {
  std::atomic<std::uint64_t> failures{0};
  std::atomic<std::uint64_t> successes{0};
  std::atomic<std::uint64_t> blocks_created{0};
  std::atomic<std::uint64_t> shadow_trips{0};
  std::atomic<std::uint64_t> gate_allowed{0};
  std::atomic<std::uint64_t> gate_blocked{0};
  std::atomic<std::uint64_t> gate_open_proxy{0};
  std::atomic<std::uint64_t> blocks_lifted{0};
  // POST /v1/login/check answers (issue 19: by the rules' decision) and the signals they found.
  std::atomic<std::uint64_t> checks_allowed{0};
  std::atomic<std::uint64_t> checks_blocked{0};     // a block, a rule's block
  std::atomic<std::uint64_t> checks_challenged{0};  // a rule's challenge
  std::atomic<std::uint64_t> open_proxy_matches{0};
  std::atomic<std::uint64_t> exposed_credential_matches{0};  // the pair or the password alone
  std::atomic<std::uint64_t> gate_rule_blocked{0};  // the gate's 403s by a rule
  std::atomic<std::uint64_t> gate_challenged{0};    // the gate's 401 challenges

  std::string prometheus_text() const;
};

// Thread-safety: immutable after construction but for the username-state horizon, an atomic
// that only grows (cover_username_rules); the stores it points to are thread-safe.
class login_limiter {
 public:
  // The username key is derived from `master` (the ring's current key): usernames are never
  // stored in clear, only as HMAC-SHA256(k, normalized username) truncated to 16 bytes.
  login_limiter(const login_config& config, const crypto::master_key& master, storage::rate_counters& counters,
                storage::blocks& blocks);
  // As above from the ring's current key, and across a key rotation: while username counters
  // or blocks made under the previous version can still be live (until the current version's
  // creation time plus the horizon: the longest window or block of every username rule in force
  // since start; always, when that time is unknown), they keep counting and blocking. New state
  // goes under the current key only. The horizon starts from config.rules.
  login_limiter(const login_config& config, const crypto::key_ring& keys, storage::rate_counters& counters,
                storage::blocks& blocks);
  ~login_limiter();
  login_limiter(const login_limiter&) = delete;
  login_limiter& operator=(const login_limiter&) = delete;

  const login_config& config() const noexcept { return config_; }
  storage::rate_counters& counters() const noexcept { return counters_; }
  storage::blocks& blocks() const noexcept { return blocks_; }
  login_metrics& metrics() const noexcept { return metrics_; }

  // "user:" + 32 hex digits of the keyed hash of an already normalized username. Fails only
  // when OpenSSL cannot set up the HMAC.
  result<std::string> username_key(std::string_view normalized) const;
  // The same under the previous key version, while its state can still be live at now_ms;
  // nullopt otherwise (no previous version, or its horizon has passed).
  result<std::optional<std::string>> previous_username_key(std::string_view normalized, std::int64_t now_ms) const;

  // Extends the horizon to cover `rules` (their username and ip+username windows and blocks):
  // every rate-limit rule set installed (rule_registry calls it before a version serves). It
  // never shrinks: a block set under a longer timeout earlier in this process is still found.
  void cover_username_rules(const std::vector<login_rule>& rules) noexcept;
  // The horizon in seconds (0: no username rule so far: the previous key is never consulted).
  std::int64_t username_horizon_seconds() const noexcept {
    return username_horizon_seconds_.load(std::memory_order_acquire);
  }

 private:
  const login_config& config_;
  std::array<std::uint8_t, 32> username_hash_key_{};
  std::optional<std::array<std::uint8_t, 32>> previous_hash_key_;
  std::int64_t rotated_at_seconds_ = 0;  // the current version's creation; 0: unknown
  std::atomic<std::int64_t> username_horizon_seconds_{0};
  storage::rate_counters& counters_;
  storage::blocks& blocks_;
  mutable login_metrics metrics_;
};

// The block key a rule kind uses for one attempt: "203.0.113.7", "2001:db8:1:2::/64",
// "user:<hex>", or "<address group>+user:<hex>". `user_key` comes from username_key().
std::string login_block_key(login_key_kind kind, const ip_address& address, std::string_view user_key);

// "ip", "username" or "ip+username", from the shape of a block key.
std::string_view login_block_kind(std::string_view key) noexcept;

// Maps what an admin types to a block key: a bare IPv4 address, an IPv6 address (its /64),
// an IPv6 /64 in CIDR form, or any other key as it is.
std::string login_block_key_from_admin_input(std::string_view input);

struct login_check {
  bool blocked = false;
  std::int64_t retry_after_seconds = 0;  // when blocked: whole seconds, >= 1
  std::string matched_key;               // the block key with the latest end, when blocked
  std::string rule;
  std::string user_key;  // username_key() of the username, when one was given (a keyed hash)
  // previous_username_key() of it, while the previous version is consulted (a keyed hash too;
  // never logged): rate.login_failures.username adds its count, as the recorder does.
  std::string previous_user_key;
};

// Whether an attempt from `address` (and, when given, for the normalized `username`) is
// blocked at now_ms. Without a username only address blocks apply.
result<login_check> check_login(const login_limiter& limiter, const ip_address& address,
                                std::optional<std::string_view> normalized_username, std::int64_t now_ms);

struct login_rule_trip {
  std::string rule;
  std::string key;
  double failures = 0;  // the estimate that reached the limit
};

struct login_result_outcome {
  std::vector<storage::block_entry> newly_blocked;  // blocks this failure set
  std::vector<login_rule_trip> shadow_trips;        // shadow rules at or over their limit
  login_check state;                                // the attempt's keys after recording
  std::string user_key;                             // username_key() of the username
};

// One login outcome as the backend operation it becomes (storage/login_attempts.hpp): the
// rules' counter and block keys for this attempt, and the keys read back afterwards.
struct login_result_plan {
  storage::login_attempt attempt;
  bool success = false;  // the outcome (attempt.failure says whether any rule counts it)
  std::string user_key;  // username_key() of the username
};
result<login_result_plan> plan_login_result(const login_limiter& limiter, const ip_address& address,
                                           std::string_view normalized_username, bool success, std::int64_t now_ms);

// The rate-limit rules in force (docs/rules.md, "Rate-limit rules"): the rule file's
// [[rate_limit]] tables, each counting the reported outcomes its expression matches, or without
// any, the config's [[login.rules]], each counting failures.
struct login_rate_rules {
  const std::vector<login_rule>* rules = nullptr;  // in order; names are the rule ids
  const rules::rule_set* counting = nullptr;       // null: every rule counts failures
};
// [[rate_limit]] i of `set` as a login_rule (its characteristic, limit, period, timeout).
login_rule login_rule_of(const rules::rate_limit_source& source);

// A reported outcome as the counting expressions see it.
struct login_outcome {
  bool success = false;
  std::int64_t response_code = 0;  // http.response.code; 0 when not reported
};

// As above, counting under `rate_rules`: only the rules whose expression matches the outcome
// count it (all of them count a failure when rate_rules.counting is null).
result<login_result_plan> plan_login_result(const login_limiter& limiter, const login_rate_rules& rate_rules,
                                           const ip_address& address, std::string_view normalized_username,
                                           const login_outcome& outcome, std::int64_t now_ms);

// rate.login_failures.*: the counter of the first rule in `rate_rules` of `kind` (ip, or
// username with `user_key` set) and its limit, as storage::login_counts reads it; nullopt when no
// rule counts that kind (or no user_key for username): the field is then 0. Across a rotation
// the same call with the previous keyed hash gives the counter that rule's
// login_rule_step::previous_counter_key names.
std::optional<storage::count_read> login_count_read(const login_rate_rules& rate_rules, login_key_kind kind,
                                                    const ip_address& address,
                                                    std::optional<std::string_view> user_key);

// What the backend's answer means for the reply and the audit; counts metrics.
login_result_outcome read_login_result(const login_limiter& limiter, const login_result_plan& plan,
                                       const storage::login_attempt_result& settled);

// Records one login outcome through ONE backend operation. Only failures count: each rule adds
// one to its key's counter and, when the count reaches the rule's limit, blocks the key for
// block_seconds (unless it is already blocked, or the rule is shadow-only). Counter and block
// changes go to `changes` (kept alive by the caller until `done`); the caller commits them with
// its audit entries before replying. `done` may run inline or on the backend's thread.
void record_login_result(const login_limiter& limiter, storage::login_attempts& attempts, const ip_address& address,
                         std::string_view normalized_username, bool success, std::int64_t now_ms,
                         storage::change_set& changes, storage::completion<login_result_outcome> done);
// The same under the rule file's rate-limit rules (plan_login_result above). `rate_rules` is
// read only while the call plans the attempt, before it returns.
void record_login_result(const login_limiter& limiter, const login_rate_rules& rate_rules,
                         storage::login_attempts& attempts, const ip_address& address,
                         std::string_view normalized_username, const login_outcome& outcome, std::int64_t now_ms,
                         storage::change_set& changes, storage::completion<login_result_outcome> done);

}  // namespace callsign::server
