// The rule file: a full example, defaults, [lists], rate limits, reads() and list_names().
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "rules_support.hpp"

using namespace callsign::rules;
using namespace callsign::rules::test;

BOOST_AUTO_TEST_SUITE(rule_file)

const char* const full_example = R"toml(
[lists]
office = ["192.0.2.0/24", "2001:db8:1::/48"]
partners = ["198.51.100.7"]

[[rule]]
id = "office-allow"
expression = "ip.src in $office"
action = "allow"
description = "Staff never see a challenge"

[[rule]]
id = "seed"
expression = 'http.request.uri.path contains "/login" and (not ip.src in $open_proxies and bot.score < 30)'
action = "challenge"

[[rule]]
id = "exposed"
expression = "login.exposed_password"
action = "log"

[[rule]]
id = "proxies"
expression = "ip.src in $open_proxies"
action = "block"
shadow = true

[[rate_limit]]
id = "failed-logins-ip"
expression = "not login.success"
characteristics = ["ip.src"]
limit = 5
period = 60
mitigation_timeout = 3600

[[rate_limit]]
id = "forbidden-pairs"
expression = "http.response.code eq 403 and login.username_present"
characteristics = ["login.username", "ip.src"]
limit = 10
period = 600
shadow = true
)toml";

BOOST_AUTO_TEST_CASE(a_full_file_compiles_to_what_it_says) {
  auto s = file_ok(full_example);
  BOOST_REQUIRE_EQUAL(s->rules().size(), 4U);
  BOOST_TEST(s->rules()[0].id == "office-allow");
  BOOST_TEST(s->rules()[0].act == action::allow);
  BOOST_TEST(s->rules()[0].description == "Staff never see a challenge");
  BOOST_TEST(s->rules()[0].line == 6);
  BOOST_TEST(s->rules()[1].act == action::challenge);
  BOOST_TEST(!s->rules()[1].shadow);
  BOOST_TEST(s->rules()[2].act == action::log);
  BOOST_TEST(s->rules()[3].shadow);
  BOOST_REQUIRE_EQUAL(s->rate_limits().size(), 2U);
  const auto& a = s->rate_limits()[0];
  BOOST_TEST(a.id == "failed-logins-ip");
  BOOST_TEST((a.by == characteristic::ip));
  BOOST_TEST(a.limit == 5);
  BOOST_TEST(a.period_seconds == 60);
  BOOST_TEST(a.mitigation_timeout_seconds == 3600);
  BOOST_TEST(!a.shadow);
  const auto& b = s->rate_limits()[1];
  BOOST_TEST((b.by == characteristic::ip_username));
  BOOST_TEST(b.mitigation_timeout_seconds == 3600);  // the default
  BOOST_TEST(b.shadow);
  // Names the rules bind, managed and file-defined, once each, in order of first use.
  BOOST_TEST(s->list_names() == (std::vector<std::string>{"office", "open_proxies"}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(reads_names_only_the_fields_rules_read) {
  auto s = file_ok(full_example);
  const field_mask r = s->reads();
  for (field f : {field::ip_src, field::http_request_uri_path, field::bot_score, field::login_exposed_password}) {
    BOOST_TEST(r.test(static_cast<std::size_t>(f)), field_name(f));
  }
  for (field f : {field::http_user_agent, field::login_exposed_credential, field::rate_login_failures_ip,
                  field::login_success, field::http_response_code, field::http_request_headers}) {
    BOOST_TEST(!r.test(static_cast<std::size_t>(f)), field_name(f));
  }
  BOOST_TEST(r.count() == 4U);
}

BOOST_AUTO_TEST_CASE(file_lists_are_ip_sets) {
  auto s = file_ok(full_example);
  decision d;
  auto f = browser_login();
  f.ip_src = ip("192.0.2.77");
  s->evaluate(f, d);
  BOOST_TEST((d.act == action::allow));
  BOOST_TEST((d.rule == 0U));
  f.ip_src = ip("2001:db8:1:ffff::1");
  s->evaluate(f, d);
  BOOST_TEST((d.rule == 0U));
  f.ip_src = ip("2001:db8:2::1");
  s->evaluate(f, d);
  BOOST_TEST((d.rule != 0U));
}

BOOST_AUTO_TEST_CASE(counting_expressions_read_the_reported_outcome) {
  auto s = file_ok(full_example);
  auto f = browser_login();
  f.login_success = false;
  BOOST_TEST(s->counts(0, f));
  f.login_success = true;
  BOOST_TEST(!s->counts(0, f));
  f.response_code = 403;
  BOOST_TEST(s->counts(1, f));
  f.username_present = false;
  BOOST_TEST(!s->counts(1, f));
  BOOST_TEST(!s->counts(2, f));  // no such rate limit
}

BOOST_AUTO_TEST_CASE(counting_expressions_may_read_ip_src) {
  auto s = file_ok(R"([[rate_limit]]
id = "proxy-failures"
expression = "ip.src in $open_proxies and not login.success"
characteristics = ["login.username"]
limit = 3
period = 30
)");
  BOOST_TEST((s->rate_limits()[0].by == characteristic::username));
  BOOST_TEST(s->reads().none());  // only [[rule]]s count for reads()
  auto f = browser_login();
  f.ip_src = ip("203.0.113.1");
  BOOST_TEST(s->counts(0, f));
  BOOST_TEST(s->list_names() == (std::vector<std::string>{"open_proxies"}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(empty_text_is_an_empty_rule_set) {
  for (const char* text : {"", "# nothing yet\n", "\n\n"}) {
    auto s = file_ok(text);
    BOOST_TEST(s->rules().empty());
    BOOST_TEST(s->rate_limits().empty());
    decision d;
    d.act = action::block;
    d.logged.push_back(3);
    s->evaluate(browser_login(), d);
    BOOST_TEST(!d.act.has_value());
    BOOST_TEST(d.logged.empty());
  }
}

// A line of a multi-line string may start with "[^": that is no table header (the guard
// against toml++'s bad-header bug must not refuse it; found by rules_fuzz).
BOOST_AUTO_TEST_CASE(a_multi_line_expression_line_may_start_with_a_bracket) {
  auto s = file_ok("[[rule]]\nid = \"r\"\naction = \"block\"\nexpression = \"\"\"\nhttp.user_agent matches \"x|\n"
                   "[^a-z]curl\"\"\"\"\n[[rule]]\nid = \"q\"\naction = \"log\"\nexpression = '''\nhttp.host eq \"a\n"
                   "[&b\" or device.managed'''\n");
  auto f = browser_login();
  f.user_agent = "a\n-curl";
  decision d;
  s->evaluate(f, d);
  BOOST_TEST((d.act == action::block));
}

BOOST_AUTO_TEST_CASE(actions_round_trip_their_names) {
  for (auto a : {action::block, action::challenge, action::log, action::allow, action::skip}) {
    BOOST_TEST((parse_action(action_name(a)) == a));
  }
  BOOST_TEST(!parse_action("Block").has_value());
  BOOST_TEST(!parse_action("deny").has_value());
}

BOOST_AUTO_TEST_CASE(without_a_resolver_managed_lists_are_unknown) {
  rule_error why;
  auto s = rule_set::compile("[[rule]]\nid = \"a\"\nexpression = \"ip.src in $open_proxies\"\naction = \"block\"\n",
                             list_resolver{}, why);
  BOOST_TEST(s == nullptr);
  BOOST_TEST(why.message.find("no list named $open_proxies") != std::string::npos, why.message);
}

BOOST_AUTO_TEST_SUITE_END()

// The benchmark file the lead's HTTP benchmark loads into callsignd must stay a valid rule file.
BOOST_AUTO_TEST_CASE(the_benchmark_rule_file_compiles) {
  const char* source = std::getenv("CALLSIGN_SOURCE_DIR");
  BOOST_REQUIRE(source != nullptr);
  std::ifstream in(std::string(source) + "/tools/bench/rules_100.toml");
  BOOST_REQUIRE(in.good());
  std::stringstream text;
  text << in.rdbuf();
  auto s = file_ok(text.str());
  BOOST_TEST(s->rules().size() == 100U);
  BOOST_TEST(s->list_names() == (std::vector<std::string>{"open_proxies", "office", "partners", "hosting"}),
             boost::test_tools::per_element());
  decision d;
  auto f = browser_login();
  f.host = "login.example.com";
  f.uri_path = "/login";
  f.bot_score = 12;
  s->evaluate(f, d);
  BOOST_TEST((d.act == action::challenge));
  BOOST_TEST(s->rules()[*d.rule].id == "seed-login-bots");
}
