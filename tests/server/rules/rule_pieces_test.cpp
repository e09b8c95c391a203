// The server's side of the login rules without sockets: the request fields the gate and
// login/check build, the registry's swap, re-bind and refusals, the audit diff and the shadow
// edit (docs/rules.md).
#include <boost/test/unit_test.hpp>

#include <fstream>

#include "server/rules/login_decision.hpp"
#include "server/rules/rule_diff.hpp"
#include "server/rules/rule_registry.hpp"
#include "server/rules/rule_request.hpp"
#include "server/rules/rule_shadow_edit.hpp"
#include "support/temp_directory.hpp"

using namespace callsign;
using namespace callsign::server;

namespace {

const char* const two_rules = R"([[rule]]
id = "posts"
expression = 'http.request.method eq "POST"'
action = "challenge"

[[rule]]
id = "proxies"
# a comment the shadow edit keeps
expression = "ip.src in $open_proxies"
action = "block"
)";

std::shared_ptr<const storage::ip_set> proxies(const char* cidr) {
  storage::ip_prefix prefix;
  prefix.address = *storage::parse_ip_address(cidr);
  prefix.length = 32;
  return std::make_shared<const storage::ip_set>(storage::ip_set::build({prefix}));
}

rules::request_fields from(const char* ip, const char* method = "GET") {
  rules::request_fields f;
  f.ip_src = storage::parse_ip_bytes(ip);
  f.method = method;
  return f;
}

std::string file_text(const std::filesystem::path& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

BOOST_AUTO_TEST_SUITE(rule_pieces)

BOOST_AUTO_TEST_CASE(bot_scores_are_integers_from_1_to_99) {
  BOOST_TEST(parse_bot_score("29").value() == 29);
  BOOST_TEST(parse_bot_score(" 1 ").value() == 1);
  BOOST_TEST(!parse_bot_score("0"));
  BOOST_TEST(!parse_bot_score("100"));
  BOOST_TEST(!parse_bot_score("12abc"));
  BOOST_TEST(!parse_bot_score(""));
  BOOST_TEST(!parse_bot_score("-5"));
}

BOOST_AUTO_TEST_CASE(the_gate_reads_what_nginx_forwards) {
  http_request r;
  r.headers = {{"x-original-uri", "/login?next=%2Fhome"}, {"x-original-method", "POST"}, {"host", "shop.example"},
               {"user-agent", "Mozilla/5.0"}, {"x-bot-score", "12"}, {"accept", "a"}, {"accept", "b"}};
  const auto req = gate_rule_request(r, "x-bot-score");
  BOOST_TEST(req.path == "/login");  // the query is not part of the path
  BOOST_TEST(req.method == "POST");
  BOOST_TEST(req.host == "shop.example");
  BOOST_TEST(req.user_agent == "Mozilla/5.0");
  BOOST_TEST(req.bot_score.value() == 12);
  auto accept = std::find_if(req.headers.begin(), req.headers.end(), [](const auto& h) { return h.first == "accept"; });
  BOOST_REQUIRE(accept != req.headers.end());
  BOOST_TEST(accept->second == "a, b");  // repeated headers joined, RFC 9110 §5.3
  // Another configured header; a bad score is no score.
  r.headers.push_back({"x-score", "abc"});
  BOOST_TEST(!gate_rule_request(r, "x-score").bot_score);
}

BOOST_AUTO_TEST_CASE(the_registry_swaps_only_what_compiles_and_writes_it_first) {
  test::temp_directory dir;
  storage::manual_clock clock(std::chrono::system_clock::time_point(std::chrono::seconds(1'700'000'000)));
  rules_config config;
  login_config login;
  rule_registry registry(config, login, dir.path(), clock);
  list_snapshot lists;
  lists.open_proxies = proxies("192.0.2.1");
  BOOST_REQUIRE(registry.load(lists));  // no file at <data_dir>/rules.toml: no rules
  BOOST_TEST(registry.published()->version == 0U);

  auto outcome = registry.replace(two_rules);
  BOOST_REQUIRE(std::holds_alternative<rules_change>(outcome));
  BOOST_TEST(registry.published()->version == 1U);
  BOOST_TEST(file_text(dir.path() / "rules.toml") == two_rules);

  // A rule set that does not compile: the error, the old version and file untouched.
  outcome = registry.replace("[[rule]]\nid = \"x\"\nexpression = \"ip.src in $nowhere\"\naction = \"block\"\n");
  BOOST_REQUIRE(std::holds_alternative<rules::rule_error>(outcome));
  BOOST_TEST(std::get<rules::rule_error>(outcome).rule == "x");
  BOOST_TEST(registry.published()->version == 1U);
  BOOST_TEST(file_text(dir.path() / "rules.toml") == two_rules);

  // Hits count against the deciding rule; the same id keeps its count into the next version.
  auto decided = decide_by_rules(*registry.current(lists), from("192.0.2.1"));
  BOOST_TEST((decided.action == login_action::block));
  BOOST_TEST(decided.rule.value() == "proxies");
  std::string moved = std::string(two_rules);
  moved.replace(moved.find("\"POST\""), 6, "\"PUT\"");
  BOOST_REQUIRE(std::holds_alternative<rules_change>(registry.replace(moved)));
  BOOST_TEST(registry.published()->counters->hits[1].load() == 1U);
  // The console's series: one pair per rule and mode, named by id.
  std::vector<std::pair<std::string, std::uint64_t>> series;
  registry.append_hit_series(series);
  BOOST_TEST(series.size() == 4U);
  BOOST_TEST((std::find(series.begin(), series.end(), std::pair<std::string, std::uint64_t>{"rule_hits.proxies", 1}) !=
              series.end()));
  BOOST_TEST((std::find(series.begin(), series.end(),
                        std::pair<std::string, std::uint64_t>{"rule_shadow_hits.posts", 0}) != series.end()));
}

BOOST_AUTO_TEST_CASE(a_reloaded_list_is_bound_before_it_serves_and_a_check_never_compiles) {
  test::temp_directory dir;
  storage::manual_clock clock(std::chrono::system_clock::time_point(std::chrono::seconds(1'700'000'000)));
  rules_config config;
  login_config login;
  rule_registry registry(config, login, dir.path(), clock);
  list_snapshot first;
  first.open_proxies = proxies("192.0.2.1");
  BOOST_REQUIRE(registry.load(first));
  BOOST_REQUIRE(std::holds_alternative<rules_change>(registry.replace(two_rules)));
  BOOST_TEST((decide_by_rules(*registry.current(first), from("192.0.2.1")).action == login_action::block));
  // The list registry hands the next list over before it serves (list_registry::set_before_swap):
  // the same text, bound to the new set, same version, same counts.
  list_snapshot second;
  second.open_proxies = proxies("192.0.2.2");
  registry.bind(second);
  const auto rebound = registry.current(second);
  BOOST_TEST(rebound->version == 1U);
  BOOST_TEST(rebound->open_proxies == second.open_proxies);
  BOOST_TEST((decide_by_rules(*rebound, from("192.0.2.1")).action == login_action::allow));
  BOOST_TEST((decide_by_rules(*rebound, from("192.0.2.2")).action == login_action::block));
  BOOST_TEST(rebound->counters->hits[1].load() == 2U);  // the version's counts, shared by its bindings
  // A check that took its snapshot before the swap keeps the binding of its own list.
  const auto earlier = registry.current(first);
  BOOST_TEST(earlier->open_proxies == first.open_proxies);
  BOOST_TEST((decide_by_rules(*earlier, from("192.0.2.1")).action == login_action::block));
  BOOST_TEST(rebound->counters->hits[1].load() == 3U);
  // A list bind() never saw: served the newest binding, never compiled on the caller's thread
  // (an I/O thread in callsignd).
  list_snapshot unseen;
  unseen.open_proxies = proxies("192.0.2.3");
  const auto served = registry.current(unseen);
  BOOST_TEST(served->open_proxies == second.open_proxies);
  BOOST_TEST(served.get() == rebound.get());
  // A replace compiles against both lists bind() was given, so both keep an exact binding.
  std::string moved = std::string(two_rules);
  moved.replace(moved.find("\"POST\""), 6, "\"PUT\"");
  BOOST_REQUIRE(std::holds_alternative<rules_change>(registry.replace(moved)));
  BOOST_TEST(registry.current(second)->version == 2U);
  BOOST_TEST(registry.current(second)->open_proxies == second.open_proxies);
  BOOST_TEST(registry.current(first)->version == 2U);
  BOOST_TEST(registry.current(first)->open_proxies == first.open_proxies);
  BOOST_TEST(registry.current(first)->counters == registry.current(second)->counters);
}

BOOST_AUTO_TEST_CASE(rate_limits_live_in_one_place) {
  test::temp_directory dir;
  storage::manual_clock clock(std::chrono::system_clock::time_point(std::chrono::seconds(1'700'000'000)));
  rules_config config;
  login_config login;
  const char* rate = "[[rate_limit]]\nid = \"f\"\nexpression = \"not login.success\"\ncharacteristics = "
                     "[\"ip.src\", \"login.username\"]\nlimit = 3\nperiod = 60\nmitigation_timeout = 120\n";
  {
    rule_registry registry(config, login, dir.path(), clock);
    BOOST_REQUIRE(std::holds_alternative<rules_change>(registry.replace(rate)));
    const auto now = registry.published();
    BOOST_TEST(now->rate_rules_from_file);
    BOOST_REQUIRE(now->rate_rules.size() == 1U);
    BOOST_TEST((now->rate_rules[0].kind == login_key_kind::ip_username));
    BOOST_TEST(now->rate_rules[0].block_seconds == 120);
  }
  login.rules_given = true;  // [[login.rules]] written in the config
  rule_registry registry(config, login, dir.path(), clock);
  auto refused = registry.replace(rate);
  BOOST_REQUIRE(std::holds_alternative<rules::rule_error>(refused));
  BOOST_TEST(std::get<rules::rule_error>(refused).message.find("[[login.rules]]") != std::string::npos);
  BOOST_TEST(!registry.published()->rate_rules_from_file);
}

BOOST_AUTO_TEST_CASE(the_audit_diff_names_ids_and_lines) {
  rules::rule_error why;
  auto before = rules::rule_set::compile(two_rules, managed_list_resolver(list_snapshot{}), why);
  std::string edited = std::string(two_rules);
  edited.replace(edited.find("\"challenge\""), 11, "\"block\"");
  edited.replace(edited.find("id = \"proxies\""), 14, "id = \"proxy\"");
  auto after = rules::rule_set::compile(edited, managed_list_resolver(list_snapshot{}), why);
  BOOST_REQUIRE(before);
  BOOST_REQUIRE(after);
  const auto diff = diff_rule_files(*before, two_rules, *after, edited);
  BOOST_TEST(diff.changed == std::vector<std::string>{"posts"});
  BOOST_TEST(diff.added == std::vector<std::string>{"proxy"});
  BOOST_TEST(diff.removed == std::vector<std::string>{"proxies"});
  BOOST_TEST(diff.lines == (std::vector<std::string>{"-4 action = \"challenge\"", "+4 action = \"block\"",
                                                     "-7 id = \"proxies\"", "+7 id = \"proxy\""}),
             boost::test_tools::per_element());
  // Packed for audit details: in order, none over the limit, a long line split.
  const auto chunks = pack_diff_lines({std::string(10, 'a'), std::string(25, 'b')}, 16);
  BOOST_TEST(chunks == (std::vector<std::string>{"aaaaaaaaaa", "bbbbbbbbbbbbbbbb", "bbbbbbbbb"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(the_shadow_edit_touches_one_line) {
  auto on = set_shadow_in_text(two_rules, 6, true);  // the [[rule]] of "proxies"
  BOOST_REQUIRE(on);
  std::string expected = two_rules;
  expected.insert(expected.find("id = \"proxies\""), "shadow = true\n");
  BOOST_TEST(*on == expected);
  auto off = set_shadow_in_text(*on, 6, false);  // an existing key is replaced in place
  BOOST_REQUIRE(off);
  expected.replace(expected.find("shadow = true"), 13, "shadow = false");
  BOOST_TEST(*off == expected);
  BOOST_TEST(!set_shadow_in_text(two_rules, 2, true));  // not a table header
  BOOST_TEST(!set_shadow_in_text(two_rules, 99, true));
}

BOOST_AUTO_TEST_SUITE_END()
