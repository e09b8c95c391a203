// [login] parsing: rules as [[login.rules]], trusted proxies, bad values named by key.
#include <boost/test/unit_test.hpp>

#include "server/config/config.hpp"

using namespace callsign;
using namespace callsign::server;

namespace {
std::string error_of(std::string_view toml) {
  auto cfg = parse_config(toml, "test.toml");
  BOOST_REQUIRE(!cfg);
  return cfg.error().message;
}
}  // namespace

BOOST_AUTO_TEST_SUITE(login_config_suite)

BOOST_AUTO_TEST_CASE(defaults_without_a_section) {
  auto cfg = parse_config("", "t.toml");
  BOOST_REQUIRE(cfg);
  BOOST_TEST(cfg->login.rules.size() == 2U);
  BOOST_TEST(cfg->login.trusted_proxies.empty());
  BOOST_TEST(!cfg->login.gate_block_open_proxies);
}

BOOST_AUTO_TEST_CASE(rules_replace_the_defaults) {
  auto cfg = parse_config(R"(
[login]
trusted_proxies = ["127.0.0.1", "10.0.0.0/8", "::1"]
gate_block_open_proxies = true

[[login.rules]]
name = "ip-fast"
key = "ip"
limit = 10
window_seconds = 10
block_seconds = 600

[[login.rules]]
name = "pair-watch"
key = "ip+username"
limit = 3
window_seconds = 300
block_seconds = 60
shadow = true
)",
                          "t.toml");
  BOOST_REQUIRE(cfg);
  const auto& login = cfg->login;
  BOOST_TEST(login.gate_block_open_proxies);
  BOOST_REQUIRE(login.trusted_proxies.size() == 3U);
  BOOST_TEST(to_string(login.trusted_proxies[1]) == "10.0.0.0/8");
  BOOST_REQUIRE(login.rules.size() == 2U);
  BOOST_TEST(login.rules[0].name == "ip-fast");
  BOOST_TEST((login.rules[0].kind == login_key_kind::ip));
  BOOST_TEST(login.rules[0].limit == 10);
  BOOST_TEST(login.rules[0].window_seconds == 10);
  BOOST_TEST(login.rules[0].block_seconds == 600);
  BOOST_TEST(!login.rules[0].shadow);
  BOOST_TEST((login.rules[1].kind == login_key_kind::ip_username));
  BOOST_TEST(login.rules[1].shadow);
}

BOOST_AUTO_TEST_CASE(an_empty_rule_list_turns_limits_off) {
  auto cfg = parse_config("[login]\nrules = []\n", "t.toml");
  BOOST_REQUIRE(cfg);
  BOOST_TEST(cfg->login.rules.empty());
}

BOOST_AUTO_TEST_CASE(bad_values_name_their_key) {
  BOOST_TEST(error_of("[login]\ntrusted_proxies = [\"nope\"]\n").find("login.trusted_proxies") != std::string::npos);
  BOOST_TEST(error_of("[login]\nwhat = 1\n").find("login.what") != std::string::npos);
  BOOST_TEST(error_of("[[login.rules]]\nname = \"x\"\nkey = \"mac\"\n").find("login.rules[0].key") !=
             std::string::npos);
  BOOST_TEST(error_of("[[login.rules]]\nname = \"Bad Name\"\nkey = \"ip\"\n").find("login.rules[0].name") !=
             std::string::npos);
  BOOST_TEST(error_of("[[login.rules]]\nname = \"a\"\nkey = \"ip\"\nlimit = 0\n").find("login.rules[0].limit") !=
             std::string::npos);
  BOOST_TEST(
      error_of("[[login.rules]]\nname = \"a\"\nkey = \"ip\"\n[[login.rules]]\nname = \"a\"\nkey = \"username\"\n")
          .find("login.rules[1].name") != std::string::npos);
  BOOST_TEST(error_of("[login]\nrules = 3\n").find("login.rules") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
