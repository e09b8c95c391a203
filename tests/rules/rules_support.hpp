// Shared by the rules tests: a request with every field set, a resolver with two managed lists,
// and one-line compile/evaluate helpers.
#pragma once

#include <boost/test/unit_test.hpp>

#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "rules/rule_set.hpp"
#include "storage/lists/ip_set_parser.hpp"

namespace callsign::rules {
inline std::ostream& operator<<(std::ostream& o, action a) { return o << action_name(a); }
}  // namespace callsign::rules

namespace callsign::rules::test {

inline storage::ip_bytes ip(std::string_view text) {
  auto b = storage::parse_ip_bytes(text);
  BOOST_REQUIRE_MESSAGE(b.has_value(), "test IP " << text);
  return *b;
}

inline std::shared_ptr<const storage::ip_set> set_of(std::string_view text) {
  auto s = storage::parse_ip_set(text);
  BOOST_REQUIRE(s.has_value());
  return std::make_shared<const storage::ip_set>(std::move(s.value()));
}

// $open_proxies: 203.0.113.0/24 and 2001:db8:bad::/48; $empty: configured, not loaded.
inline list_resolver managed_lists() {
  auto proxies = set_of("203.0.113.0/24\n2001:db8:bad::/48\n");
  auto empty = std::make_shared<const storage::ip_set>();
  return [proxies, empty](std::string_view name) -> std::shared_ptr<const storage::ip_set> {
    if (name == "open_proxies") return proxies;
    if (name == "empty") return empty;
    return nullptr;
  };
}

// A browser's POST /login from 198.51.100.7 with bot score 50.
inline request_fields browser_login() {
  request_fields f;
  f.ip_src = ip("198.51.100.7");
  f.uri_path = "/account/login";
  f.method = "POST";
  f.host = "Example.COM";
  f.user_agent = "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0";
  f.headers = {{"Content-Type", "application/json"}, {"X-Requested-With", "XMLHttpRequest"}};
  f.bot_score = 50;
  f.username_present = true;
  f.login_failures_ip = 3;
  f.login_failures_username = 1;
  return f;
}

inline expression_ptr compile_ok(std::string_view text) {
  rule_error why;
  auto e = compile_expression(text, managed_lists(), why);
  BOOST_REQUIRE_MESSAGE(e != nullptr, "compile " << text << ": " << why.message);
  return e;
}

inline bool eval(std::string_view text, const request_fields& f = browser_login()) {
  auto e = compile_ok(text);
  return evaluate_expression(*e, f);
}

inline rule_error compile_error(std::string_view text) {
  rule_error why;
  auto e = compile_expression(text, managed_lists(), why);
  BOOST_REQUIRE_MESSAGE(e == nullptr, "expected a refusal: " << text);
  return why;
}

inline std::shared_ptr<const rule_set> file_ok(std::string_view toml) {
  rule_error why;
  auto s = rule_set::compile(toml, managed_lists(), why);
  BOOST_REQUIRE_MESSAGE(s != nullptr, "rule file refused: " << why.message);
  return s;
}

inline rule_error file_error(std::string_view toml) {
  rule_error why;
  auto s = rule_set::compile(toml, managed_lists(), why);
  BOOST_REQUIRE_MESSAGE(s == nullptr, "expected a refusal of:\n" << toml);
  BOOST_TEST_MESSAGE("refused: " << why.message);
  return why;
}

}  // namespace callsign::rules::test
