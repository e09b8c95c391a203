#include "server/rules/login_decision.hpp"

namespace callsign::server {

std::string_view login_action_name(login_action action) noexcept {
  switch (action) {
    case login_action::block:
      return "block";
    case login_action::challenge:
      return "challenge";
    case login_action::allow:
      break;
  }
  return "allow";
}

login_decision decide_by_rules(const installed_rules& rules, const rules::request_fields& fields) {
  login_decision out;
  const auto& list = rules.set->rules();
  if (list.empty()) return out;
  // Reused per thread: evaluation itself allocates nothing once warm.
  thread_local rules::decision scratch;
  rules.set->evaluate(fields, scratch);
  rule_registry::count(rules, scratch);
  if (scratch.act && scratch.rule && *scratch.rule < list.size()) {
    out.rule = list[*scratch.rule].id;
    if (*scratch.act == rules::action::block) out.action = login_action::block;
    if (*scratch.act == rules::action::challenge) out.action = login_action::challenge;
  }
  for (auto i : scratch.logged) {
    if (i < list.size()) out.logged.push_back(list[i].id);
  }
  for (auto i : scratch.shadow) {
    if (i < list.size()) out.shadow.push_back(list[i].id);
  }
  return out;
}

result<void> fill_rate_fields(const installed_rules& rules, const login_limiter& limiter, const ip_address& address,
                              std::optional<std::string_view> user_key, std::int64_t now_ms,
                              rules::request_fields& fields) {
  const auto reads = rules.set->reads();
  const auto view = rules.rate_rules_view();
  if (reads.test(static_cast<std::size_t>(rules::field::rate_login_failures_ip))) {
    auto count = current_login_count(limiter, view, login_key_kind::ip, address, std::nullopt, now_ms);
    if (!count) return count.error();
    fields.login_failures_ip = *count;
  }
  if (reads.test(static_cast<std::size_t>(rules::field::rate_login_failures_username))) {
    auto count = current_login_count(limiter, view, login_key_kind::username, address, user_key, now_ms);
    if (!count) return count.error();
    fields.login_failures_username = *count;
  }
  return {};
}

}  // namespace callsign::server
