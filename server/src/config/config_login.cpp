// [login] and [[login.rules]]: failed-login rate limits and the gate's trusted proxies.
#include <algorithm>
#include <set>

#include "config_toml.hpp"

namespace callsign::server {

std::string_view login_key_kind_name(login_key_kind kind) noexcept {
  switch (kind) {
    case login_key_kind::ip:
      return "ip";
    case login_key_kind::username:
      return "username";
    case login_key_kind::ip_username:
      return "ip+username";
  }
  return "ip";
}

std::vector<login_rule> default_login_rules() {
  return {
      login_rule{"ip", login_key_kind::ip, 5, 60, 3600, false},
      login_rule{"username", login_key_kind::username, 5, 60, 3600, false},
  };
}

namespace config_detail {

namespace {
bool valid_rule_name(std::string_view name) {
  return !name.empty() && name.size() <= 64 && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
  });
}

result<login_rule> parse_rule(const toml::table& t, std::size_t index, std::string_view src) {
  const std::string where = "login.rules[" + std::to_string(index) + "]";
  CALLSIGN_TRY(reject_unknown(t, where, {"name", "key", "limit", "window_seconds", "block_seconds", "shadow"}, src));
  login_rule rule;
  std::optional<std::string> text;
  CALLSIGN_TRY(read_string(t, where, "name", text, src));
  if (!text || !valid_rule_name(*text)) {
    return config_error(src, where + ".name", "must be 1-64 of a-z 0-9 . _ -");
  }
  rule.name = *text;
  text.reset();
  CALLSIGN_TRY(read_string(t, where, "key", text, src));
  if (!text) {
    return config_error(src, where + ".key", "must be one of ip, username, ip+username");
  }
  if (*text == "ip") {
    rule.kind = login_key_kind::ip;
  } else if (*text == "username") {
    rule.kind = login_key_kind::username;
  } else if (*text == "ip+username") {
    rule.kind = login_key_kind::ip_username;
  } else {
    return config_error(src, where + ".key", "must be one of ip, username, ip+username");
  }
  CALLSIGN_TRY(read_integer(t, where, "limit", 1, 1'000'000, rule.limit, src));
  CALLSIGN_TRY(read_integer(t, where, "window_seconds", 1, 86'400, rule.window_seconds, src));
  CALLSIGN_TRY(read_integer(t, where, "block_seconds", 1, 30 * 86'400, rule.block_seconds, src));
  CALLSIGN_TRY(read_bool(t, where, "shadow", rule.shadow, src));
  return rule;
}
}  // namespace

result<void> parse_login_section(const toml::table& t, server_config& cfg, std::string_view src) {
  CALLSIGN_TRY(reject_unknown(t, "login", {"rules", "trusted_proxies", "gate_block_open_proxies"}, src));
  auto& login = cfg.login;
  CALLSIGN_TRY(read_bool(t, "login", "gate_block_open_proxies", login.gate_block_open_proxies, src));
  if (const auto* node = t.get("trusted_proxies")) {
    const auto* list = node->as_array();
    if (list == nullptr) {
      return config_error(src, "login.trusted_proxies", "must be an array of addresses or CIDRs");
    }
    login.trusted_proxies.clear();
    for (const auto& item : *list) {
      const auto* text = item.as_string();
      auto network = text == nullptr ? std::nullopt : parse_ip_network(text->get());
      if (!network) {
        return config_error(src, "login.trusted_proxies", "must be an array of addresses or CIDRs");
      }
      login.trusted_proxies.push_back(*network);
    }
  }
  if (const auto* node = t.get("rules")) {
    const auto* list = node->as_array();
    if (list == nullptr) {
      return config_error(src, "login.rules", "must be an array of tables ([[login.rules]])");
    }
    login.rules.clear();
    login.rules_given = true;
    std::set<std::string, std::less<>> names;
    for (std::size_t i = 0; i < list->size(); ++i) {
      const auto* table = (*list)[i].as_table();
      if (table == nullptr) {
        return config_error(src, "login.rules", "must be an array of tables ([[login.rules]])");
      }
      auto rule = parse_rule(*table, i, src);
      if (!rule) {
        return rule.error();
      }
      if (!names.insert(rule->name).second) {
        return config_error(src, "login.rules[" + std::to_string(i) + "].name", "repeats another rule's name");
      }
      login.rules.push_back(std::move(*rule));
    }
  }
  return {};
}

}  // namespace config_detail
}  // namespace callsign::server
