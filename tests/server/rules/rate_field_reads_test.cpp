// What the login rules read of the failure counts (rate.login_failures.*, docs/rules.md): which
// counters a request asks storage::login_counts for, and how the counts become fields. The
// backends themselves are under the login counts contract (tests/support).
#include <boost/test/unit_test.hpp>

#include "server/rules/login_decision.hpp"
#include "server/rules/rule_registry.hpp"
#include "storage/state_key.hpp"
#include "support/temp_directory.hpp"

using namespace callsign;
using namespace callsign::server;

namespace {

const char* const rate_limits = R"(
[[rate_limit]]
id = "failed-ip"
expression = "not login.success"
characteristics = ["ip.src"]
limit = 7
period = 60

[[rate_limit]]
id = "failed-ip-2"
expression = "not login.success"
characteristics = ["ip.src"]
limit = 9
period = 90

[[rate_limit]]
id = "failed-user"
expression = "not login.success"
characteristics = ["login.username"]
limit = 20
period = 600
)";

struct registry_world {
  test::temp_directory dir;
  storage::manual_clock clock{std::chrono::system_clock::time_point(std::chrono::seconds(1'700'000'000))};
  rules_config config;
  login_config login;
  rule_registry registry{config, login, dir.path(), clock};

  std::shared_ptr<const installed_rules> install(const std::string& rules) {
    auto changed = registry.replace(rules + rate_limits);
    BOOST_REQUIRE(std::holds_alternative<rules_change>(changed));
    return registry.current(list_snapshot{});
  }
};

const ip_address address = *parse_ip_address("192.0.2.7");
const std::string user_key = "user:00112233445566778899aabbccddeeff";

}  // namespace

BOOST_AUTO_TEST_SUITE(rate_field_reads_suite)

BOOST_AUTO_TEST_CASE(rules_that_read_no_count_read_nothing) {
  registry_world w;
  auto rules = w.install("[[rule]]\nid = \"r\"\nexpression = \"ip.src in {198.51.100.0/24}\"\naction = \"block\"\n");
  BOOST_TEST(plan_rate_fields(*rules, address, user_key, std::nullopt).size == 0U);
}

BOOST_AUTO_TEST_CASE(each_field_reads_the_first_rate_limit_of_its_kind) {
  registry_world w;
  auto rules = w.install(
      "[[rule]]\nid = \"a\"\nexpression = \"rate.login_failures.ip ge 3\"\naction = \"challenge\"\n"
      "[[rule]]\nid = \"b\"\nexpression = \"rate.login_failures.username ge 3\"\naction = \"block\"\n");
  auto reads = plan_rate_fields(*rules, address, user_key, std::nullopt);
  BOOST_REQUIRE(reads.size == 2U);
  BOOST_TEST(reads.keys[0].key == storage::state_key({"login", "failed-ip", "192.0.2.7"}));
  BOOST_TEST(reads.keys[0].limit.limit == 7);
  BOOST_TEST(reads.keys[0].limit.window_ms == 60'000);
  BOOST_TEST(reads.keys[1].key == storage::state_key({"login", "failed-user", user_key}));
  BOOST_TEST(reads.keys[1].limit.limit == 20);
  BOOST_TEST(reads.keys[1].limit.window_ms == 600'000);
  // Without a username (and always at the gate) the username field has nothing to read: 0.
  auto no_user = plan_rate_fields(*rules, address, std::nullopt, std::nullopt);
  BOOST_REQUIRE(no_user.size == 1U);
  BOOST_TEST((no_user.fields[0] == rules::field::rate_login_failures_ip));
}

BOOST_AUTO_TEST_CASE(only_the_fields_read_are_planned_and_counts_are_whole_failures) {
  registry_world w;
  auto rules =
      w.install("[[rule]]\nid = \"b\"\nexpression = \"rate.login_failures.username gt 1\"\naction = \"block\"\n");
  auto reads = plan_rate_fields(*rules, address, user_key, std::nullopt);
  BOOST_REQUIRE(reads.size == 1U);
  BOOST_TEST((reads.fields[0] == rules::field::rate_login_failures_username));
  reads.counts[0] = 2.9;  // an estimate: truncated, as the embedded field always was
  rules::request_fields fields;
  apply_rate_counts(reads, fields);
  BOOST_TEST(fields.login_failures_username == 2);
  BOOST_TEST(fields.login_failures_ip == 0);
  BOOST_TEST((decide_by_rules(*rules, fields).action == login_action::block));
  reads.counts[0] = 1.0;
  apply_rate_counts(reads, fields);
  BOOST_TEST((decide_by_rules(*rules, fields).action == login_action::allow));
}

// Across a key rotation (within its horizon) the username field reads the same rule's counter
// under both keyed hashes and adds them, as callsign_login_record and the embedded recorder add
// previous_counter_key's count: one read of three keys, still one backend operation.
BOOST_AUTO_TEST_CASE(the_username_field_adds_the_previous_keys_count_within_a_rotation) {
  registry_world w;
  auto rules = w.install(
      "[[rule]]\nid = \"a\"\nexpression = \"rate.login_failures.ip ge 100\"\naction = \"challenge\"\n"
      "[[rule]]\nid = \"b\"\nexpression = \"rate.login_failures.username ge 5\"\naction = \"block\"\n");
  const std::string previous_key = "user:ffeeddccbbaa99887766554433221100";
  auto reads = plan_rate_fields(*rules, address, user_key, previous_key);
  BOOST_REQUIRE(reads.size == 3U);
  BOOST_TEST(reads.keys[1].key == storage::state_key({"login", "failed-user", user_key}));
  BOOST_TEST(reads.keys[2].key == storage::state_key({"login", "failed-user", previous_key}));
  BOOST_TEST(reads.keys[2].limit.limit == 20);  // counted under the same rule's limit and window
  BOOST_TEST(reads.keys[2].limit.window_ms == 600'000);
  BOOST_TEST((reads.fields[2] == rules::field::rate_login_failures_username));
  reads.counts = {1.0, 2.6, 2.6};  // summed before truncating: 5, not 2 + 2
  rules::request_fields fields;
  apply_rate_counts(reads, fields);
  BOOST_TEST(fields.login_failures_ip == 1);
  BOOST_TEST(fields.login_failures_username == 5);
  BOOST_TEST((decide_by_rules(*rules, fields).action == login_action::block));
  // Without a current key (no username) the previous one is not read either.
  BOOST_TEST(plan_rate_fields(*rules, address, std::nullopt, previous_key).size == 1U);
}

BOOST_AUTO_TEST_SUITE_END()
