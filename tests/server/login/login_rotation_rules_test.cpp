// Failed-login username state across a master-key rotation when the username limit lives only in
// the rule file ([[rate_limit]], docs/rules.md): the limiter's horizon covers the rule sets the
// registry installs, grows with a longer one and never shrinks, and rate.login_failures.username
// adds the previous key's count as the recorder does. Real embedded counters and blocks (RocksDB
// in a temp dir); time is passed in.
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <optional>

#include "crypto/key_ring.hpp"
#include "server/login/login_limits.hpp"
#include "server/rules/login_decision.hpp"
#include "server/rules/rule_registry.hpp"
#include "storage/clock.hpp"
#include "storage/database.hpp"
#include "storage/embedded_attempts.hpp"
#include "storage/embedded_blocks.hpp"
#include "storage/embedded_login_counts.hpp"
#include "storage/embedded_rate_counters.hpp"
#include "support/temp_directory.hpp"

using namespace callsign;
using namespace callsign::server;

namespace {
constexpr std::int64_t t0 = 1'700'000'040'000;
constexpr std::int64_t rotated_at = t0 / 1000 + 10;  // unix seconds: version 2's creation

// A username limit of 4 failures, with `period` and `timeout` in seconds, and a rule that
// challenges at 3 failures of the username (it reads rate.login_failures.username).
std::string rule_file(std::int64_t period, std::int64_t timeout) {
  return "[[rule]]\nid = \"third-failure\"\nexpression = \"rate.login_failures.username ge 3\"\n"
         "action = \"challenge\"\n\n[[rate_limit]]\nid = \"user-fails\"\nexpression = \"not login.success\"\n"
         "characteristics = [\"login.username\"]\nlimit = 4\nperiod = " +
         std::to_string(period) + "\nmitigation_timeout = " + std::to_string(timeout) + "\n";
}

crypto::key_ring ring(bool rotated) {
  std::string text = "1 " + std::string(64, 'a') + "\n";
  if (rotated) text += "2 " + std::string(64, 'b') + " " + std::to_string(rotated_at) + "\n";
  auto parsed = crypto::key_ring::parse(text);
  BOOST_REQUIRE(parsed);
  return std::move(parsed).value();
}

// The config's limits count addresses only: every username limit comes from the rule file.
login_config ip_only_config() {
  login_config cfg;
  cfg.rules = {login_rule{"ip", login_key_kind::ip, 1000, 60, 60, false}};
  return cfg;
}

const ip_address address = *parse_ip_address("203.0.113.9");

// One data directory (database, counters, blocks) that the nodes before and after the rotation
// share, as callsignd's does across `callsign keys rotate` and a restart.
struct store {
  explicit store(const test::temp_directory& dir) : db(open_db(dir)), counters(*db), blocks(open_blocks(*db)) {}
  static std::unique_ptr<storage::database> open_db(const test::temp_directory& dir) {
    auto opened = storage::database::open({dir.path() / "db", true});
    BOOST_REQUIRE(opened);
    return std::move(opened).value();
  }
  static std::unique_ptr<storage::embedded_blocks> open_blocks(storage::database& db) {
    auto opened = storage::embedded_blocks::open(db, t0);
    BOOST_REQUIRE(opened);
    return std::move(opened).value();
  }
  std::unique_ptr<storage::database> db;
  storage::embedded_rate_counters counters;
  std::unique_ptr<storage::embedded_blocks> blocks;
};

// One callsignd's limiter and rule registry over the shared store, from a ring.
struct node {
  node(store& s, const test::temp_directory& dir, bool rotated)
      : shared(s), keys(ring(rotated)), limiter(config, keys, s.counters, *s.blocks),
        registry(rules_cfg, config, dir.path(), clock, &limiter) {}

  void install(const std::string& text) {
    BOOST_REQUIRE(std::holds_alternative<rules_change>(registry.replace(text)));
  }
  // One failed login reported through the rule file's rate limits, committed as the route does.
  login_result_outcome fail(std::string_view user, std::int64_t now) {
    const auto rules = registry.current(list_snapshot{});
    storage::embedded_login_attempts attempts(shared.counters, *shared.blocks);
    storage::change_set changes;
    std::optional<result<login_result_outcome>> answered;
    record_login_result(limiter, rules->rate_rules_view(), attempts, address, user, login_outcome{false, 0}, now,
                        changes, [&answered](result<login_result_outcome> out) { answered = std::move(out); });
    BOOST_REQUIRE(answered.has_value());
    BOOST_REQUIRE(*answered);
    if (!changes.ops.empty()) BOOST_REQUIRE(shared.db->write(changes.ops));
    return std::move(**answered);
  }
  login_check check(std::string_view user, std::int64_t now) {
    auto out = check_login(limiter, address, user, now);
    BOOST_REQUIRE(out);
    return std::move(out).value();
  }
  // What POST /v1/login/check decides when no block holds: the rules over the counts they read.
  std::pair<login_action, std::int64_t> decide(std::string_view user, std::int64_t now) {
    const auto checked = check(user, now);
    std::optional<std::string_view> previous;
    if (!checked.previous_user_key.empty()) previous = checked.previous_user_key;
    const auto rules = registry.current(list_snapshot{});
    auto reads = plan_rate_fields(*rules, address, checked.user_key, previous);
    storage::embedded_login_counts counts(shared.counters);
    auto read = counts.read_inline(now, reads.read_keys(), reads.read_counts());
    BOOST_REQUIRE(read.has_value());
    BOOST_REQUIRE(*read);
    rules::request_fields fields;
    fields.ip_src = address;
    fields.username_present = true;
    apply_rate_counts(reads, fields);
    return {decide_by_rules(*rules, fields).action, fields.login_failures_username};
  }
  bool consults_previous(std::int64_t now) const {
    auto previous = limiter.previous_username_key("alice", now);
    BOOST_REQUIRE(previous);
    return previous->has_value();
  }

  store& shared;
  login_config config = ip_only_config();
  rules_config rules_cfg;
  storage::manual_clock clock{std::chrono::system_clock::time_point(std::chrono::milliseconds(t0))};
  crypto::key_ring keys;
  login_limiter limiter;
  rule_registry registry;
};

struct rotation_world {
  test::temp_directory data;
  test::temp_directory rules_before;
  test::temp_directory rules_after;
  store shared{data};
};

std::int64_t at(std::int64_t seconds_after_rotation) { return (rotated_at + seconds_after_rotation) * 1000; }
}  // namespace

BOOST_AUTO_TEST_SUITE(login_rotation_rules)

BOOST_FIXTURE_TEST_CASE(failures_before_a_rotation_count_under_a_rule_file_limit, rotation_world) {
  node before(shared, rules_before, false);
  before.install(rule_file(600, 7200));
  for (int i = 0; i < 2; ++i) BOOST_TEST(before.fail("alice", t0 + i * 1000).newly_blocked.empty());

  node after(shared, rules_after, true);
  // The config counts no username: nothing to consult until the rule file is installed.
  BOOST_TEST(after.limiter.username_horizon_seconds() == 0);
  BOOST_TEST(!after.consults_previous(at(1)));
  after.install(rule_file(600, 7200));
  BOOST_TEST(after.limiter.username_horizon_seconds() == 7200);
  BOOST_TEST(after.fail("alice", at(5)).newly_blocked.empty());  // 2 + 1
  // rate.login_failures.username is the sum the recorder acts on: 2 before + 1 after.
  const auto [action, count] = after.decide("alice", at(6));
  BOOST_TEST(count == 3);
  BOOST_TEST((action == login_action::challenge));
  BOOST_TEST(after.decide("bob", at(6)).second == 0);
  // The fourth failure in all blocks the username, under the current key.
  const auto fourth = after.fail("alice", at(7));
  BOOST_REQUIRE(fourth.newly_blocked.size() == 1U);
  BOOST_TEST(fourth.newly_blocked[0].key == *after.limiter.username_key("alice"));
  BOOST_TEST(after.check("alice", at(8)).blocked);
}

// In a rolling rotation, nodes not yet restarted keep writing under the previous key: that state
// counts until the horizon (7200 s, the longest window or timeout) ends, and not after.
BOOST_FIXTURE_TEST_CASE(the_previous_key_counts_within_the_horizon_and_not_after, rotation_world) {
  node before(shared, rules_before, false);
  before.install(rule_file(600, 7200));
  node after(shared, rules_after, true);
  after.install(rule_file(600, 7200));
  for (const auto* user : {"alice", "bob"}) {
    for (int i = 0; i < 3; ++i) before.fail(user, at(7000 + i));
  }
  BOOST_TEST(after.consults_previous(at(7199)));
  BOOST_TEST(after.decide("alice", at(7199)).second == 3);
  BOOST_TEST(after.fail("alice", at(7199)).newly_blocked.size() == 1U);

  BOOST_TEST(!after.consults_previous(at(7200)));
  // bob's three failures are still in their window, but the previous key is no longer read.
  BOOST_TEST(after.decide("bob", at(7201)).second == 0);
  const auto late = after.fail("bob", at(7201));
  BOOST_TEST(late.newly_blocked.empty());
  BOOST_TEST(!late.state.blocked);
}

BOOST_FIXTURE_TEST_CASE(a_later_rule_file_with_a_longer_window_extends_the_horizon, rotation_world) {
  node before(shared, rules_before, false);
  before.install(rule_file(86400, 600));
  for (int i = 0; i < 3; ++i) before.fail("alice", t0 + i * 1000);

  node after(shared, rules_after, true);
  after.install(rule_file(60, 600));
  BOOST_TEST(after.limiter.username_horizon_seconds() == 600);
  BOOST_TEST(!after.consults_previous(at(700)));
  BOOST_TEST(after.fail("alice", at(700)).newly_blocked.empty());  // the three before are not read

  after.install(rule_file(86400, 600));  // PUT /v1/admin/rules, a reload or a cluster sync
  BOOST_TEST(after.limiter.username_horizon_seconds() == 86400);
  BOOST_TEST(after.consults_previous(at(700)));
  const auto blocked = after.fail("alice", at(710));  // 3 before + 2 after
  BOOST_TEST(blocked.newly_blocked.size() == 1U);
}

// A block set under a long timeout before the rotation is still found after a rule file with
// short limits replaces the long one: the horizon does not shrink.
BOOST_FIXTURE_TEST_CASE(a_shorter_rule_file_does_not_shrink_the_horizon, rotation_world) {
  node before(shared, rules_before, false);
  before.install(rule_file(600, 7200));
  for (int i = 0; i < 4; ++i) before.fail("alice", t0 + i * 1000);
  const auto old_key = before.limiter.username_key("alice");
  BOOST_REQUIRE(old_key);
  BOOST_REQUIRE(before.check("alice", t0 + 5000).blocked);

  node after(shared, rules_after, true);
  after.install(rule_file(600, 7200));
  after.install(rule_file(60, 60));
  BOOST_TEST(after.limiter.username_horizon_seconds() == 7200);
  const auto held = after.check("alice", at(3000));
  BOOST_TEST(held.blocked);
  BOOST_TEST(held.matched_key == *old_key);
}

BOOST_AUTO_TEST_SUITE_END()
