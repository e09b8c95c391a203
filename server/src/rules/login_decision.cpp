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

rate_field_reads plan_rate_fields(const installed_rules& rules, const ip_address& address,
                                  std::optional<std::string_view> user_key,
                                  std::optional<std::string_view> previous_user_key) {
  rate_field_reads out;
  const auto reads = rules.set->reads();
  const auto view = rules.rate_rules_view();
  auto plan = [&](rules::field field, login_key_kind kind, std::optional<std::string_view> key) {
    if (!reads.test(static_cast<std::size_t>(field))) return false;
    auto read = login_count_read(view, kind, address, key);
    if (!read) return false;
    out.keys[out.size] = std::move(*read);
    out.fields[out.size] = field;
    ++out.size;
    return true;
  };
  plan(rules::field::rate_login_failures_ip, login_key_kind::ip, std::nullopt);
  // The same rule's counter under the previous key: the recorder adds it to the current count
  // (login_rule_step::previous_counter_key), so the field does too.
  if (plan(rules::field::rate_login_failures_username, login_key_kind::username, user_key) && previous_user_key) {
    plan(rules::field::rate_login_failures_username, login_key_kind::username, previous_user_key);
  }
  return out;
}

void apply_rate_counts(const rate_field_reads& reads, rules::request_fields& fields) noexcept {
  double ip = 0;
  double username = 0;
  bool read_ip = false;
  bool read_username = false;
  for (std::size_t i = 0; i < reads.size; ++i) {
    if (reads.fields[i] == rules::field::rate_login_failures_ip) {
      ip += reads.counts[i];
      read_ip = true;
    } else {
      username += reads.counts[i];
      read_username = true;
    }
  }
  // Summed before truncating, as the recorder compares the sum with the limit.
  if (read_ip) fields.login_failures_ip = static_cast<std::int64_t>(ip);
  if (read_username) fields.login_failures_username = static_cast<std::int64_t>(username);
}

}  // namespace callsign::server
