// Functions, sets and lists.
#include "rules_support.hpp"

using namespace callsign::rules;
using namespace callsign::rules::test;

BOOST_AUTO_TEST_SUITE(functions_and_sets)

BOOST_AUTO_TEST_CASE(lower_is_ascii_only) {
  BOOST_TEST(eval("lower(http.host) eq \"example.com\""));
  BOOST_TEST(eval("lower(http.user_agent) contains \"firefox\""));
  BOOST_TEST(!eval("http.user_agent contains \"firefox\""));
  auto f = browser_login();
  f.host = "\xC3\x84XAMPLE";  // Ä stays as it is
  BOOST_TEST(eval("lower(http.host) eq \"\xC3\x84xample\"", f));
  BOOST_TEST(eval("lower(lower(http.host)) eq \"\xC3\x84xample\"", f));
}

BOOST_AUTO_TEST_CASE(starts_with_ends_with_len) {
  BOOST_TEST(eval("starts_with(http.request.uri.path, \"/account\")"));
  BOOST_TEST(!eval("starts_with(http.request.uri.path, \"/login\")"));
  BOOST_TEST(eval("ends_with(http.request.uri.path, \"/login\")"));
  BOOST_TEST(!eval("ends_with(http.request.uri.path, \"/account\")"));
  BOOST_TEST(eval("starts_with(lower(http.host), \"exam\")"));
  BOOST_TEST(eval("starts_with(http.request.uri.path, \"/account\") eq true"));
  BOOST_TEST(eval("ends_with(http.request.uri.path, \"/x\") == false"));
  BOOST_TEST(eval("not ends_with(http.request.uri.path, \"/x\")"));
  BOOST_TEST(eval("starts_with(http.request.uri.path, \"\")"));
  BOOST_TEST(eval("len(http.request.method) eq 4"));
  BOOST_TEST(eval("len(http.request.headers[\"referer\"]) == 0"));
  BOOST_TEST(eval("len(lower(http.user_agent)) > 20 and len(http.user_agent) < 100"));
  BOOST_TEST(eval("len(http.host) in {10..12}"));
}

BOOST_AUTO_TEST_CASE(integer_sets_with_ranges) {
  BOOST_TEST(eval("bot.score in {1..10 50 80}"));
  BOOST_TEST(eval("bot.score in {1..49 50..50}"));
  BOOST_TEST(!eval("bot.score in {1..49 51..99}"));
  BOOST_TEST(eval("bot.score in {-10..-1 40..60}"));
  BOOST_TEST(!eval("bot.score in {49 51}"));
  BOOST_TEST(eval("rate.login_failures.ip in {0..2 3 10..20}"));
}

BOOST_AUTO_TEST_CASE(string_sets) {
  BOOST_TEST(eval("http.request.method in {\"GET\" \"HEAD\" \"POST\"}"));
  BOOST_TEST(!eval("http.request.method in {\"GET\" \"HEAD\"}"));
  BOOST_TEST(!eval("http.request.method in {\"post\"}"));
  BOOST_TEST(eval("lower(http.request.method) in {\"post\"}"));
}

BOOST_AUTO_TEST_CASE(ip_sets_with_cidrs_both_families) {
  BOOST_TEST(eval("ip.src in {10.0.0.0/8 198.51.100.0/24}"));
  BOOST_TEST(eval("ip.src in {198.51.100.7}"));
  BOOST_TEST(!eval("ip.src in {198.51.100.8 10.0.0.0/8 2001:db8::/32}"));
  BOOST_TEST(eval("ip.src in {198.51.100.100/25}"));  // host bits ignored: 198.51.100.0/25
  BOOST_TEST(!eval("ip.src in {198.51.100.200/26}"));  // .192-.255
  auto f = browser_login();
  f.ip_src = ip("2001:db8:1::5");
  BOOST_TEST(eval("ip.src in {2001:db8::/32}", f));
  BOOST_TEST(!eval("ip.src in {2001:db9::/32 198.51.100.0/24}", f));
  BOOST_TEST(eval("ip.src in {0.0.0.0/0 ::/0}", f));
}

BOOST_AUTO_TEST_CASE(named_lists_from_the_resolver) {
  auto f = browser_login();
  BOOST_TEST(!eval("ip.src in $open_proxies", f));
  f.ip_src = ip("203.0.113.200");
  BOOST_TEST(eval("ip.src in $open_proxies", f));
  f.ip_src = ip("2001:db8:bad:1::1");
  BOOST_TEST(eval("ip.src in $open_proxies", f));
  BOOST_TEST(!eval("ip.src in $empty", f));  // configured but not loaded: matches nothing
}

BOOST_AUTO_TEST_SUITE_END()
