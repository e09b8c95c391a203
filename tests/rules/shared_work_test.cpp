// The shared path (rule_set::compile: a leaf's result computed once per request for every rule
// that tests it, needle groups answering all `contains`/`starts_with`/`ends_with`/`eq`/`ne` of
// one value at once, integer comparisons of one value as one group, rules skipped when a leaf
// they require is known false) gives the same answer for every rule as the plain path
// (compile_unshared: each leaf computed where it is reached, one needle at a time). Every rule
// is a `log` rule, so a decision lists each rule that matched.
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "rule_set_testing.hpp"
#include "rules_support.hpp"

using namespace callsign::rules;
using namespace callsign::rules::test;

namespace {

// Edge cases of each shared piece; rules repeat leaves on purpose (equal leaves share a slot).
const std::vector<std::string> edge_expressions = {
    // contains groups: lower(UA), raw UA (case), a header, 1-byte and empty needles (not grouped)
    R"(lower(http.user_agent) contains "curl")",
    R"(lower(http.user_agent) contains "curl" and http.request.uri.path contains "/login")",
    R"(lower(http.user_agent) contains "python-requests")",
    R"(lower(http.user_agent) contains "CURL")",  // never: lower() has no upper case
    R"(http.user_agent contains "CURL")",
    R"(http.user_agent contains "curl")",
    R"(lower(http.user_agent) contains "l/")",
    R"(lower(http.user_agent) contains "/7")",
    R"(lower(http.user_agent) contains "x")",
    R"(lower(http.user_agent) contains "")",
    R"(lower(http.user_agent) contains "curlcurl")",
    R"(lower(http.user_agent) contains "urlc")",
    R"(lower(http.user_agent) contains "mozilla/5.0 (x11; linux x86_64) firefox/120.0")",
    R"(lower(http.user_agent) contains "mozilla/5.0 (x11; linux x86_64) firefox/120.0!")",
    R"(not lower(http.user_agent) contains "wget")",
    R"(lower(http.user_agent) contains "wget" or lower(http.user_agent) contains "scrapy")",
    R"(http.request.headers["accept"] contains "*/")",
    R"(http.request.headers["accept"] contains "JSON")",
    R"(lower(http.request.headers["accept"]) contains "json")",
    // starts_with / ends_with groups, an empty affix, an affix longer than the value
    R"(starts_with(lower(http.request.uri.path), "/wp-login"))",
    R"(starts_with(lower(http.request.uri.path), "/"))",
    R"(starts_with(lower(http.request.uri.path), ""))",
    R"(starts_with(lower(http.request.uri.path), "/account/login/and/more/than/the/path"))",
    R"(ends_with(lower(http.request.uri.path), ".php"))",
    R"(ends_with(lower(http.request.uri.path), "login"))",
    R"(ends_with(http.request.uri.path, "LOGIN"))",
    R"(starts_with(http.request.uri.path, "/admin") eq false)",
    R"(not starts_with(http.request.uri.path, "/admin") and ends_with(lower(http.request.uri.path), ".php"))",
    // eq / ne groups; a header absent and present but empty both read as ""
    R"(http.request.uri.path eq "/login")",
    R"(http.request.uri.path eq "/account/login")",
    R"(http.request.uri.path ne "/login")",
    R"(http.request.uri.path ne "/account/login")",
    R"(http.request.uri.path eq "")",
    R"(http.request.headers["accept"] eq "")",
    R"(http.request.headers["accept"] ne "")",
    R"(http.request.headers["x-empty"] eq "")",
    R"(http.request.headers["x-empty"] ne "")",
    R"(http.request.headers["accept"] eq "*/*")",
    R"(http.request.uri.path lt "/b")",
    R"(http.request.method eq "POST")",
    R"(http.request.method eq "POST" and http.request.uri.path eq "/login")",
    R"(http.request.method in {"POST" "PUT"})",
    // integer groups: every comparison, an absent bot.score (all false, ne included), bounds
    "bot.score lt 30", "bot.score le 30", "bot.score gt 30", "bot.score ge 30", "bot.score eq 30",
    "bot.score ne 30", "not bot.score lt 30", "bot.score lt 1", "bot.score gt 99",
    "bot.score ge -9223372036854775807", "bot.score le 9223372036854775807", "bot.score gt 9223372036854775807",
    "bot.score in {11..29}", "bot.score < 30 and http.request.method eq \"POST\"",
    "len(http.user_agent) eq 0", "len(http.user_agent) < 12", "len(http.user_agent) > 40",
    "len(http.request.headers[\"accept\"]) eq 0", "len(http.request.headers[\"x-empty\"]) ne 0",
    "rate.login_failures.ip > 3", "rate.login_failures.ip ge 3", "rate.login_failures.ip > 3 or bot.score < 10",
    // matches: prefiltered by its atoms (FilteredRE2) on the ASCII-lowered field, or not (an
    // inline flag, a non-ASCII atom, an alternative without an atom, a header); not around it
    R"(lower(http.user_agent) matches "(bot|crawler|spider)[/ ;]")",
    R"x(http.user_agent matches "MSIE [5-8]\\.[0-9]")x",  // "msie 6.0" passes the prefilter, not RE2
    R"x(http.user_agent matches "(?i)curl")x",
    R"x(lower(http.user_agent) matches "(wget|[0-9]\\.[0-9])")x",
    R"x(http.request.uri.path matches "(union[ +]select|sleep\\(|benchmark\\()")x",
    R"x(lower(http.request.uri.path) matches "(union[ +]select|sleep\\(|benchmark\\()")x",
    R"x(not http.request.uri.path matches "^/account/log")x",
    R"x(lower(http.user_agent) matches "(aaa|bbb|ccc|ddd|eee|curl)")x",  // 6 atoms: a 64-bit table
    R"(http.request.headers["accept"] matches "JSON$")",
    R"(not http.user_agent matches "^Mozilla/[0-4]\\.")",
    R"(not lower(http.user_agent) matches "^curl" and lower(http.user_agent) contains "curl")",
    "ip.src in $open_proxies", "ip.src in $open_proxies and lower(http.user_agent) contains \"curl\"",
    "not ip.src in $open_proxies and bot.score < 30",
    "login.exposed_password xor lower(http.user_agent) contains \"curl\"",
};

std::string log_file(const std::vector<std::string>& expressions) {
  std::string out;
  for (std::size_t i = 0; i < expressions.size(); ++i) {
    out += "[[rule]]\nid = \"r" + std::to_string(i) + "\"\nexpression = '''" + expressions[i] +
           "'''\naction = \"log\"\n";
  }
  return out;
}

std::shared_ptr<const rule_set> unshared_ok(std::string_view toml) {
  rule_error why;
  auto s = compile_unshared(toml, managed_lists(), why);
  BOOST_REQUIRE_MESSAGE(s != nullptr, "rule file refused: " << why.message);
  return s;
}

// Requests that hit the edges: needles at the start, the end, overlapping, absent and empty
// headers (names in other cases), bot.score absent and at the thresholds.
std::vector<request_fields> edge_requests() {
  static const std::vector<std::string> agents = {
      "", "curl", "CURL/7.1", "xcurlcurl/7", "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0", "python-requests/2.31",
      "Googlebot/2.1 (+http://www.google.com/bot.html)", "Mozilla/4.0 wget scrapy", "c", "l/", std::string("cu\0rl", 5),
      "\xc3\xa9t\xc3\xa9 CuRl", "Mozilla/4.0 (compatible; MSIE 6.0)", "msie 6.0"};
  static const std::vector<std::string> paths = {"",           "/",        "/login",        "/account/login",
                                                 "/WP-LOGIN.php", "/admin/x", "/Account/LOGIN", "/b",
                                                 "/q=UNION select", "/q=union+select"};
  std::vector<request_fields> out;
  std::uint64_t n = 0;
  for (const auto& agent : agents) {
    for (const auto& path : paths) {
      request_fields f = browser_login();
      f.user_agent = agent;
      f.uri_path = path;
      switch (n % 4) {
        case 0: f.headers = {}; break;
        case 1: f.headers = {{"Accept", "*/*"}, {"X-Empty", ""}}; break;
        case 2: f.headers = {{"accept", ""}, {"x-EMPTY", "v"}}; break;
        default: f.headers = {{"ACCEPT", "application/JSON"}}; break;
      }
      static const std::int64_t scores[] = {1, 29, 30, 31, 99, 11};
      if (n % 7 == 3) {
        f.bot_score.reset();
      } else {
        f.bot_score = scores[n % 6];
      }
      f.method = n % 3 == 0 ? "GET" : "POST";
      f.ip_src = ip(n % 5 == 0 ? "203.0.113.9" : "198.51.100.7");
      if (n % 11 == 0) f.ip_src.reset();
      f.login_failures_ip = static_cast<std::int64_t>(n % 6);
      f.exposed_password = n % 2 == 0;
      out.push_back(f);
      ++n;
    }
  }
  return out;
}

void same_answers(const rule_set& shared, const rule_set& plain, const std::vector<request_fields>& requests,
                  std::vector<int>& matched) {
  matched.assign(shared.rules().size(), 0);
  decision a, b;
  for (std::size_t r = 0; r < requests.size(); ++r) {
    shared.evaluate(requests[r], a);
    plain.evaluate(requests[r], b);
    BOOST_TEST_CONTEXT("request " << r << " user agent '" << requests[r].user_agent << "' path '"
                                  << requests[r].uri_path << "'") {
      BOOST_TEST(a.logged == b.logged, boost::test_tools::per_element());
      BOOST_TEST(a.shadow == b.shadow, boost::test_tools::per_element());
      BOOST_TEST((a.act == b.act && a.rule == b.rule));
    }
    for (auto i : a.logged) ++matched[i];
    for (auto i : a.shadow) ++matched[i];
  }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(shared_work)

BOOST_AUTO_TEST_CASE(edge_rules_answer_as_the_plain_path) {
  const std::string file = log_file(edge_expressions);
  auto shared = file_ok(file);
  auto plain = unshared_ok(file);
  const auto requests = edge_requests();
  std::vector<int> matched;
  same_answers(*shared, *plain, requests, matched);
  // Not vacuous: every rule but those that cannot match these requests matches some request
  // and misses another (so a wrong shared answer in either direction shows).
  static const std::set<std::string> never = {
      R"(lower(http.user_agent) contains "CURL")",
      R"(lower(http.user_agent) contains "mozilla/5.0 (x11; linux x86_64) firefox/120.0!")",
      R"(starts_with(lower(http.request.uri.path), "/account/login/and/more/than/the/path"))",
      "bot.score lt 1", "bot.score gt 99", "bot.score gt 9223372036854775807"};
  for (std::size_t i = 0; i < matched.size(); ++i) {
    BOOST_TEST_CONTEXT("rule " << i << ": " << edge_expressions[i]) {
      BOOST_TEST((never.contains(edge_expressions[i]) ? matched[i] == 0 : matched[i] > 0));
      if (edge_expressions[i] != R"(lower(http.user_agent) contains "")" &&
          edge_expressions[i] != R"(starts_with(lower(http.request.uri.path), ""))" &&
          edge_expressions[i] != "bot.score ge -9223372036854775807" &&
          edge_expressions[i] != "bot.score le 9223372036854775807") {
        BOOST_TEST(static_cast<std::size_t>(matched[i]) < requests.size());
      }
    }
  }
}

// Each expression alone (compile_expression: sharing within one expression, the prefilter),
// and a non-ASCII regex, which a TOML file cannot carry through toml++ 3.3.0.
BOOST_AUTO_TEST_CASE(single_expressions_answer_as_the_plain_path) {
  auto expressions = edge_expressions;
  expressions.push_back(R"(http.user_agent matches "été")");
  expressions.push_back(R"(lower(http.user_agent) matches "ÉTÉ|curl")");
  const auto requests = edge_requests();
  for (const auto& text : expressions) {
    rule_error why;
    auto shared = compile_expression(text, managed_lists(), why);
    auto plain = compile_expression_unshared(text, managed_lists(), why);
    BOOST_REQUIRE_MESSAGE(shared != nullptr && plain != nullptr, text << ": " << why.message);
    int matched = 0;
    for (std::size_t r = 0; r < requests.size(); ++r) {
      const bool a = evaluate_expression(*shared, requests[r]);
      BOOST_TEST(a == evaluate_expression(*plain, requests[r]), text << " on request " << r);
      matched += a ? 1 : 0;
    }
    if (text.find("été") != std::string::npos) BOOST_TEST(matched > 0, text);
  }
}

// A few answers checked outright, not only against the plain path.
BOOST_AUTO_TEST_CASE(edge_answers) {
  auto s = file_ok(log_file({R"(http.request.headers["x-empty"] eq "")", "bot.score ne 30",
                             R"(lower(http.user_agent) contains "curl")", R"(lower(http.user_agent) contains "rl/")"}));
  decision d;
  request_fields f = browser_login();
  f.user_agent = "CURL/7";
  f.headers = {{"X-Empty", ""}};  // present and empty reads like absent
  f.bot_score.reset();            // absent: ne is false too
  s->evaluate(f, d);
  BOOST_TEST(d.logged == (std::vector<std::uint32_t>{0, 2, 3}), boost::test_tools::per_element());
  f.user_agent = "cur";
  f.headers = {};
  f.bot_score = 31;
  s->evaluate(f, d);
  BOOST_TEST(d.logged == (std::vector<std::uint32_t>{0, 1}), boost::test_tools::per_element());
}

// More than 64 needles on one value: a second group; each needle still answers alone.
BOOST_AUTO_TEST_CASE(more_needles_than_one_group_holds) {
  std::vector<std::string> expressions;
  for (int i = 0; i < 70; ++i) {
    expressions.push_back("lower(http.user_agent) contains \"n" + std::to_string(i) + "x\"");
  }
  const std::string file = log_file(expressions);
  auto shared = file_ok(file);
  auto plain = unshared_ok(file);
  std::vector<request_fields> requests;
  for (const char* agent : {"n0x", "N69X n63x", "n64x n1x", "xn7xn8xn9x", "", "n6", "n66"}) {
    request_fields f = browser_login();
    f.user_agent = agent;
    requests.push_back(f);
  }
  std::vector<int> matched;
  same_answers(*shared, *plain, requests, matched);
  BOOST_TEST(matched[0] == 1);
  BOOST_TEST(matched[63] == 1);
  BOOST_TEST(matched[64] == 1);
  BOOST_TEST(matched[69] == 1);
  BOOST_TEST(matched[6] == 0);
}

// The benchmark's 100 rules, every action turned into log (shadow kept), over many requests
// built from pieces of the needles the rules look for.
BOOST_AUTO_TEST_CASE(benchmark_rules_answer_as_the_plain_path) {
  const char* source = std::getenv("CALLSIGN_SOURCE_DIR");
  BOOST_REQUIRE(source != nullptr);
  std::ifstream in(std::string(source) + "/tools/bench/rules_100.toml");
  std::stringstream text;
  text << in.rdbuf();
  std::string file = text.str();
  for (const char* act : {"\"block\"", "\"challenge\"", "\"skip\"", "\"allow\""}) {
    for (auto at = file.find(std::string("action = ") + act); at != std::string::npos;
         at = file.find(std::string("action = ") + act)) {
      file.replace(at, 9 + std::string(act).size(), "action = \"log\"");
    }
  }
  auto shared = file_ok(file);
  auto plain = unshared_ok(file);
  static const char* agents[] = {"Mozilla/5.0 (Windows NT 10.0) Chrome/120.0", "curl/8.0", "python-requests/2.31",
                                 "", "Mozilla/3.0 (compatible; MSIE 6.0)", "Go-http-client/1.1", "zgrab/0.x",
                                 "okhttp/4 HeadlessChrome", "Googlebot/2.1;", "short"};
  static const char* paths[] = {"/v1/login", "/login", "/wp-login.php", "/x/../etc", "/api/y", "/admin/ok.PHP",
                                "/legacy/93/login", "/a?q=union select", "/password/reset"};
  static const char* hosts[] = {"login.example.com", "10.0.0.1:8080", "dev.example.com"};
  std::vector<request_fields> requests;
  std::uint64_t x = 0x9e3779b97f4a7c15ULL;
  const auto next = [&x] {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
  };
  for (int i = 0; i < 600; ++i) {
    request_fields f = browser_login();
    f.user_agent = agents[next() % std::size(agents)];
    f.uri_path = paths[next() % std::size(paths)];
    f.host = hosts[next() % std::size(hosts)];
    f.method = next() % 3 == 0 ? "GET" : "POST";
    if (next() % 4 == 0) {
      f.bot_score.reset();
    } else {
      f.bot_score = static_cast<std::int64_t>(next() % 99 + 1);
    }
    f.login_failures_ip = static_cast<std::int64_t>(next() % 120);
    f.login_failures_username = static_cast<std::int64_t>(next() % 40);
    f.exposed_credential = next() % 5 == 0;
    f.exposed_password = next() % 5 == 0;
    f.device_managed = next() % 3 == 0;
    f.ip_src = ip(next() % 4 == 0 ? "203.0.113.9" : (next() % 3 == 0 ? "192.0.2.66" : "2001:db8:1::5"));
    if (next() % 2 == 0) f.headers = {{"Accept", "*/*"}, {"Accept-Language", next() % 2 ? "en-GB" : ""}};
    requests.push_back(f);
  }
  std::vector<int> matched;
  same_answers(*shared, *plain, requests, matched);
  int rules_seen = 0;
  for (int m : matched) rules_seen += m > 0 ? 1 : 0;
  BOOST_TEST(rules_seen > 45);  // the requests reach about half the rules (51 when written)
}

BOOST_AUTO_TEST_SUITE_END()
