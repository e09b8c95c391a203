// What the login rules decide for one attempt (docs/rules.md, "Where rules act"), shared by
// POST /v1/login/check and GET /v1/login/gate. Plain functions over an installed rule set.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "crypto/result.hpp"
#include "rules/request_fields.hpp"
#include "server/login/login_limits.hpp"
#include "server/rules/rule_registry.hpp"

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

// Fills rate.login_failures.ip / .username when the rules read them (the count of the first
// rate-limit rule of that kind; current_login_count in login_limits.hpp).
result<void> fill_rate_fields(const installed_rules& rules, const login_limiter& limiter, const ip_address& address,
                              std::optional<std::string_view> user_key, std::int64_t now_ms,
                              rules::request_fields& fields);

}  // namespace callsign::server
