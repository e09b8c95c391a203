// Sample attempts for the attempts contract (attempts_contract_cases.hpp) and for tests of one
// backend: a verify's two counts (user, agent) and claim, and a failed login under one rule.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "storage/code_attempts.hpp"
#include "storage/login_attempts.hpp"

namespace callsign::test::attempts_contract {

constexpr std::int64_t t0 = 1'800'000'000'000;

// A claim's step began at now_ms: after any fence a shared backend keeps (none in these cases).
inline storage::code_attempt attempt_at(std::int64_t now_ms, std::optional<std::uint64_t> step,
                                        std::int64_t limit = 5, std::string user = "alice") {
  storage::code_attempt a;
  a.now_ms = now_ms;
  a.failures = {{"verify\x1fuser\x1f" + user, {limit, 900'000}}, {"verify\x1f" "agent\x1f" "a1", {1000, 900'000}}};
  if (step) a.claim = storage::step_claim{user, "phone_token", *step, now_ms};
  return a;
}

inline storage::login_attempt failure_at(std::int64_t now_ms, std::int64_t limit = 5) {
  storage::login_attempt a;
  a.now_ms = now_ms;
  a.failure = true;
  storage::login_rule_step rule;
  rule.rule = "ip";
  rule.counter_key = "login\x1fip\x1f" "192.0.2.9";
  rule.block_key = "192.0.2.9";
  rule.limit = {limit, 60'000};
  rule.block_until_ms = now_ms + 3'600'000;
  a.rules = {rule};
  a.check_keys = {"192.0.2.9"};
  return a;
}

}  // namespace callsign::test::attempts_contract
