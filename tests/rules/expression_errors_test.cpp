// Every kind of refusal of an expression compiled alone: line, column (in the expression),
// what was expected, and a message naming the problem. Plus the hard limits.
#include "rules_support.hpp"

using namespace callsign::rules;
using namespace callsign::rules::test;

namespace {

void refused(std::string_view text, int line, int column, std::string_view expected, std::string_view message) {
  BOOST_TEST_CONTEXT(text) {
    const rule_error e = compile_error(text);
    BOOST_TEST(e.line == line);
    BOOST_TEST(e.column == column);
    BOOST_TEST(e.expected.find(expected) != std::string::npos, "expected: '" << e.expected << "'");
    BOOST_TEST(e.message.find(message) != std::string::npos, "message: '" << e.message << "'");
    BOOST_TEST(e.rule.empty());
    const std::string where = "line " + std::to_string(line) + ", column " + std::to_string(column);
    BOOST_TEST(e.message.find(where) != std::string::npos, "message: '" << e.message << "'");
  }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(expression_errors)

BOOST_AUTO_TEST_CASE(names) {
  refused("bot.scor < 30", 1, 1, "a field name", "unknown field 'bot.scor'");
  refused("upper(http.host) eq \"X\"", 1, 1, "lower, len, starts_with or ends_with", "unknown function 'upper'");
  refused("http.request.headers eq \"x\"", 1, 22, "'[\"name\"]'", "found 'eq'");
  refused("http.request.headers[\"a b\"] eq \"x\"", 1, 22, "a header name", "expected a header name");
  refused("ip.src in $nope", 1, 11, "a list defined in [lists] or a managed list", "there is no list named $nope");
  refused("ip.src in $", 1, 11, "a list name after '$'", "expected a list name");
}

BOOST_AUTO_TEST_CASE(types) {
  refused("bot.score contains \"x\"", 1, 11, "a string field", "bot.score is an integer; contains needs a string field");
  refused("ip.src matches \"x\"", 1, 8, "a string field", "ip.src is an IP address; matches needs a string field");
  refused("ip.src < 10.0.0.1", 1, 8, "eq or ne", "ip.src is an IP address; < needs an integer or string field");
  refused("login.exposed_password gt true", 1, 24, "eq or ne", "is a boolean; gt needs");
  refused("http.host in $open_proxies", 1, 14, "ip.src", "http.host is a string; in $open_proxies needs ip.src");
  refused("device.managed in {1}", 1, 19, "an integer, string or IP field", "device.managed is a boolean");
  refused("bot.score", 1, 10, "a comparison after bot.score", "found the end of the expression");
  refused("bot.score eq \"x\"", 1, 14, "an integer to compare bot.score with", "found '\"x\"'");
  refused("http.host eq 5", 1, 14, "a string literal", "found '5'");
  refused("device.managed eq 1", 1, 19, "true or false", "found '1'");
  refused("lower(bot.score) eq \"x\"", 1, 7, "a string field", "bot.score is an integer; lower() needs a string field");
  refused("len(ip.src) eq 4", 1, 5, "a string field", "ip.src is an IP address; len() needs");
  refused("http.host contains 5", 1, 20, "a string literal after contains", "found '5'");
}

BOOST_AUTO_TEST_CASE(rate_limit_fields_in_a_rule) {
  refused("login.success", 1, 1, "a field a [[rule]] can read", "login.success is only for the counting expression");
  refused("bot.score < 5 or http.response.code eq 403", 1, 18, "a field a [[rule]] can read",
          "http.response.code is only for");
}

BOOST_AUTO_TEST_CASE(syntax) {
  refused("(bot.score < 30", 1, 16, "')'", "found the end of the expression");
  refused("bot.score < 30 bot.score", 1, 16, "and, or, xor or the end of the expression", "found 'bot.score'");
  refused("", 1, 1, "a field name, a function or '('", "found the end");
  refused("bot.score < 30 and", 1, 19, "a field name", "found the end");
  refused("bot.score < 30 and\n  nope eq 1", 2, 3, "a field name", "unknown field 'nope'");
  refused("http.host eq \"abc", 1, 14, "a closing '\"'", "expected a closing");
  refused("http.host eq \"a\\qb\"", 1, 16, "an escape", "expected an escape");
  refused("http.host eq r#\"abc\"", 1, 14, "a closing '\"#'", "raw string");
  refused("bot.score < 9223372036854775808", 1, 13, "an integer that fits in 64 bits", "expected an integer");
  refused("bot.score in {}", 1, 15, "at least one value", "expected at least one value");
  refused("bot.score in {10..1}", 1, 19, "a range end not below its start", "expected a range end");
  refused("bot.score in {1, 2}", 1, 16, "an integer, a range", "found ','");
  refused("bot.score in 5", 1, 14, "'{' or a $list", "found '5'");
  refused("starts_with(http.host)", 1, 22, "','", "takes two arguments");
  refused("starts_with(http.host, http.host)", 1, 24, "a string literal as the second argument", "found 'http.host'");
  refused("len(http.host, \"x\") eq 1", 1, 14, "')'", "takes one argument");
  refused("bot.score < 30 & bot.score > 1", 1, 16, "a field, function, operator", "expected a field, function, operator");
}

BOOST_AUTO_TEST_CASE(literals) {
  refused("ip.src eq 10.0.0.0/8", 1, 11, "an IP address (a CIDR needs in {...})", "write ip.src in {10.0.0.0/8}");
  refused("ip.src in {10.0.0.0/33}", 1, 12, "a prefix length 0..32 for IPv4", "expected a prefix length");
  refused("ip.src in {2001:db8::/129}", 1, 12, "a prefix length 0..128 for IPv6", "expected a prefix length");
  refused("ip.src in {10.0.0.256}", 1, 12, "an IP address or CIDR", "expected an IP address or CIDR");
  refused("ip.src in {10.0.0.1 \"x\"}", 1, 21, "an IP address or CIDR", "expected an IP address");
  refused("ip.src eq banana", 1, 11, "an IP address or CIDR", "expected an IP address");
  refused("http.user_agent matches \"(abc\"", 1, 25, "a valid RE2 regular expression", "invalid regular expression");
  refused("http.user_agent ~ \"a{2,1}\"", 1, 19, "a valid RE2 regular expression", "invalid regular expression");
}

BOOST_AUTO_TEST_CASE(limits) {
  // 4096 bytes compile; one more is refused at the 4097th byte.
  std::string pad = "bot.score < 30";
  std::string ok = pad + std::string(4096 - pad.size(), ' ');
  compile_ok(ok);
  refused(ok + " ", 1, 4097, "an expression of at most 4096 bytes", "longer than 4096 bytes");
  // 64 nested levels compile, 65 do not (parentheses, not, function calls all count).
  const auto nested = [](int n) { return std::string(static_cast<std::size_t>(n), '(') + "bot.score < 30" +
                                         std::string(static_cast<std::size_t>(n), ')'); };
  compile_ok(nested(64));
  refused(nested(65), 1, 65, "at most 64 nested", "nests deeper than 64 levels");
  std::string nots;
  for (int i = 0; i < 65; ++i) nots += "not ";
  refused(nots + "device.managed", 1, 257, "at most 64 nested", "nests deeper");
  std::string lowers = "http.host";
  for (int i = 0; i < 65; ++i) lowers = "lower(" + lowers + ")";
  refused(lowers + " eq \"x\"", 1, 6 * 64 + 1, "at most 64 nested", "nests deeper");
  // A long flat chain is not nesting: 200 conditions joined by and/or compile.
  std::string chain = "bot.score eq 0";
  for (int i = 1; i < 200; ++i) chain += (i % 2 ? " and " : " or ") + std::string("bot.score eq ") + std::to_string(i % 10);
  BOOST_REQUIRE_LE(chain.size(), 4096U);
  compile_ok(chain);
  // 1024 values in a set compile, 1025 do not.
  std::string set = "bot.score in {";
  for (int i = 0; i < 1024; ++i) set += std::to_string(i) + " ";
  compile_ok(set + "}");
  refused(set + "1024}", 1, static_cast<int>(set.size()) + 1, "at most 1024 values in a set", "more than 1024 values");
}

BOOST_AUTO_TEST_CASE(a_huge_regex_is_refused_by_its_memory_budget) {
  // 1000 repetitions of a class: RE2's program exceeds the 256 KiB max_mem.
  refused("http.user_agent matches \"(?:[a-z0-9]{1,50}x){1000}\"", 1, 25, "a valid RE2 regular expression",
          "invalid regular expression");
}

BOOST_AUTO_TEST_SUITE_END()
