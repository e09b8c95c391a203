// What the login rules decide for one attempt (docs/rules.md, "Where rules act"), shared by
// POST /v1/login/check and GET /v1/login/gate. Plain functions over an installed rule set.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "crypto/result.hpp"
#include "rules/request_fields.hpp"
#include "server/login/login_limits.hpp"
#include "server/rules/rule_registry.hpp"
#include "storage/login_counts.hpp"

namespace callsign::server {

enum class login_action { allow, block, challenge };
std::string_view login_action_name(login_action action) noexcept;  // "allow", "block", "challenge"

// Views into the installed rules, which the caller keeps alive.
struct login_decision {
  login_action action = login_action::allow;
  std::optional<std::string_view> rule;  // the rule that decided (a skip or allow rule too)
  std::vector<std::string_view> logged;  // `log` rules that matched
  std::vector<std::string_view> shadow;  // shadow rules that matched
};

// Evaluates the rules in order and counts their hits. block and challenge decide; allow and
// skip end the evaluation with `allow`; nothing matching is `allow` with no rule.
login_decision decide_by_rules(const installed_rules& rules, const rules::request_fields& fields);

// The rate.login_failures.* fields a rule set reads, as the counts to ask storage::login_counts
// for: the first rate-limit rule of that kind's counter, and for the username within a key
// rotation's horizon that rule's counter under the previous key too (the field is their sum, as
// the recorder adds them); none when the rules read neither field. A field with nothing to read
// stays 0. Holds keyed hashes only, never a username.
struct rate_field_reads {
  static constexpr std::size_t max_reads = 3;  // ip; username; username under the previous key
  std::array<storage::count_read, max_reads> keys;
  std::array<double, max_reads> counts{};
  std::array<rules::field, max_reads> fields{};
  std::size_t size = 0;

  std::span<const storage::count_read> read_keys() const noexcept { return {keys.data(), size}; }
  std::span<double> read_counts() noexcept { return {counts.data(), size}; }
};

// What `rules` reads of the counts for an attempt from `address` (and the username's keyed hash
// `user_key`, when there is one; `previous_user_key`, check_login's previous-version hash, while
// a rotation's horizon lasts).
rate_field_reads plan_rate_fields(const installed_rules& rules, const ip_address& address,
                                  std::optional<std::string_view> user_key,
                                  std::optional<std::string_view> previous_user_key);
// Sets each field read to the sum of its counts (truncated to whole failures).
void apply_rate_counts(const rate_field_reads& reads, rules::request_fields& fields) noexcept;

}  // namespace callsign::server
