// rule_set::evaluate: rules in order, the first terminating action wins, skip stops, log is
// recorded and goes on, shadow rules are recorded and never decide; the decision is reused.
#include "rules_support.hpp"

using namespace callsign::rules;
using namespace callsign::rules::test;

namespace {

// Rules that all match browser_login() unless their expression says otherwise.
std::string rules_file(std::initializer_list<std::tuple<const char*, const char*, const char*, bool>> rules) {
  std::string out;
  for (const auto& [id, expression, act, shadow] : rules) {
    out += std::string("[[rule]]\nid = \"") + id + "\"\nexpression = '" + expression + "'\naction = \"" + act +
           "\"\nshadow = " + (shadow ? "true" : "false") + "\n";
  }
  return out;
}

constexpr const char* always = "login.username_present";
constexpr const char* never = "device.managed";

}  // namespace

BOOST_AUTO_TEST_SUITE(evaluate_order)

BOOST_AUTO_TEST_CASE(first_terminating_action_wins) {
  auto s = file_ok(rules_file({{"miss", never, "block", false},
                               {"challenge", always, "challenge", false},
                               {"block", always, "block", false}}));
  decision d;
  s->evaluate(browser_login(), d);
  BOOST_TEST((d.act == action::challenge));
  BOOST_TEST((d.rule == 1U));
}

BOOST_AUTO_TEST_CASE(no_match_leaves_no_action) {
  auto s = file_ok(rules_file({{"miss", never, "block", false}}));
  decision d;
  s->evaluate(browser_login(), d);
  BOOST_TEST(!d.act.has_value());
  BOOST_TEST(!d.rule.has_value());
}

BOOST_AUTO_TEST_CASE(skip_stops_the_remaining_rules) {
  auto s = file_ok(rules_file({{"log-1", always, "log", false},
                               {"skip", always, "skip", false},
                               {"log-2", always, "log", false},
                               {"shadow-block", always, "block", true},
                               {"block", always, "block", false}}));
  decision d;
  s->evaluate(browser_login(), d);
  BOOST_TEST((d.act == action::skip));
  BOOST_TEST((d.rule == 1U));
  BOOST_TEST(d.logged == (std::vector<std::uint32_t>{0}), boost::test_tools::per_element());
  BOOST_TEST(d.shadow.empty());
}

BOOST_AUTO_TEST_CASE(log_is_recorded_and_goes_on) {
  auto s = file_ok(rules_file({{"log-1", always, "log", false},
                               {"log-miss", never, "log", false},
                               {"log-2", always, "log", false},
                               {"allow", always, "allow", false},
                               {"log-3", always, "log", false}}));
  decision d;
  s->evaluate(browser_login(), d);
  BOOST_TEST((d.act == action::allow));
  BOOST_TEST((d.rule == 3U));
  BOOST_TEST(d.logged == (std::vector<std::uint32_t>{0, 2}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(shadow_rules_are_recorded_and_never_decide) {
  for (const char* act : {"block", "challenge", "allow", "skip", "log"}) {
    BOOST_TEST_CONTEXT(act) {
      auto s = file_ok(rules_file({{"shadow-1", always, act, true},
                                   {"shadow-miss", never, act, true},
                                   {"log", always, "log", false},
                                   {"shadow-2", always, act, true},
                                   {"challenge", always, "challenge", false}}));
      decision d;
      s->evaluate(browser_login(), d);
      BOOST_TEST((d.act == action::challenge));
      BOOST_TEST((d.rule == 4U));
      BOOST_TEST(d.shadow == (std::vector<std::uint32_t>{0, 3}), boost::test_tools::per_element());
      BOOST_TEST(d.logged == (std::vector<std::uint32_t>{2}), boost::test_tools::per_element());
    }
  }
}

BOOST_AUTO_TEST_CASE(only_shadow_rules_match_no_decision) {
  auto s = file_ok(rules_file({{"shadow-block", always, "block", true}}));
  decision d;
  s->evaluate(browser_login(), d);
  BOOST_TEST(!d.act.has_value());
  BOOST_TEST(d.shadow.size() == 1U);
}

BOOST_AUTO_TEST_CASE(the_decision_is_cleared_and_its_storage_reused) {
  auto s = file_ok(rules_file({{"log", always, "log", false},
                               {"shadow", always, "block", true},
                               {"lower-ua", "lower(http.user_agent) contains \"firefox\"", "block", false}}));
  decision d;
  auto hit = browser_login();
  auto miss = browser_login();
  miss.username_present = false;
  miss.user_agent = "curl/8.0";
  s->evaluate(hit, d);  // warm-up
  const auto* logged = d.logged.data();
  const auto* shadow = d.shadow.data();
  for (int i = 0; i < 100; ++i) {
    s->evaluate(miss, d);
    BOOST_TEST(!d.act.has_value());
    BOOST_TEST(d.logged.empty());
    BOOST_TEST(d.shadow.empty());
    s->evaluate(hit, d);
    BOOST_TEST((d.act == action::block));
    BOOST_TEST((d.rule == 2U));
    BOOST_TEST(d.logged.size() == 1U);
  }
  BOOST_TEST(d.logged.data() == logged);  // no reallocation after warm-up
  BOOST_TEST(d.shadow.data() == shadow);
}

BOOST_AUTO_TEST_SUITE_END()

// Values computed once per request (a header's value, lower() of a field) are shared by the
// rules of one evaluate and recomputed for the next request.
BOOST_AUTO_TEST_CASE(values_shared_within_a_request_are_fresh_for_the_next) {
  auto s = file_ok(rules_file({{"log-origin", "http.request.headers[\"origin\"] eq \"https://a.example\"", "log", false},
                               {"log-ua", "lower(http.user_agent) contains \"curl\"", "log", false},
                               {"block-origin", "http.request.headers[\"Origin\"] ne \"\" and "
                                                "lower(http.user_agent) contains \"curl\"", "block", false}}));
  auto a = browser_login();
  a.headers = {{"Origin", "https://a.example"}};
  a.user_agent = "CURL/8";
  auto b = browser_login();  // no Origin header, a browser
  decision d;
  for (int i = 0; i < 3; ++i) {
    s->evaluate(a, d);
    BOOST_TEST((d.act == action::block));
    BOOST_TEST(d.logged == (std::vector<std::uint32_t>{0, 1}), boost::test_tools::per_element());
    s->evaluate(b, d);
    BOOST_TEST(!d.act.has_value());
    BOOST_TEST(d.logged.empty());
  }
}
