// Failed-login limits over the real embedded counters and blocks (RocksDB in a temp dir),
// with time from a manual clock.
#include "server/login/login_limits.hpp"

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <limits>
#include <optional>

#include "crypto/key_ring.hpp"
#include "storage/clock.hpp"
#include "storage/database.hpp"
#include "storage/embedded_blocks.hpp"
#include "storage/embedded_rate_counters.hpp"
#include "support/login_recording.hpp"
#include "support/temp_directory.hpp"

using namespace callsign;
using namespace callsign::server;

namespace {
constexpr std::int64_t t0 = 1'700'000'040'000;  // the start of a minute window

crypto::master_key test_master() {
  crypto::master_key key;
  key.version = 1;
  for (std::size_t i = 0; i < key.bytes.size(); ++i) key.bytes[i] = static_cast<std::uint8_t>(i * 7 + 1);
  return key;
}

ip_address addr(std::string_view text) {
  auto parsed = parse_ip_address(text);
  BOOST_REQUIRE(parsed);
  return *parsed;
}

std::int64_t ms(const storage::manual_clock& clock) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(clock.now().time_since_epoch()).count();
}

// One node: database, counters, blocks and a limiter over `config`.
struct node {
  explicit node(login_config cfg, const test::temp_directory& dir)
      : config(std::move(cfg)),
        db(open_db(dir)),
        counters(*db),
        blocks(open_blocks(*db)),
        limiter(config, master, counters, *blocks) {}

  static std::unique_ptr<storage::database> open_db(const test::temp_directory& dir) {
    auto db = storage::database::open({dir.path() / "db", true});
    BOOST_REQUIRE(db);
    return std::move(db).value();
  }
  static std::unique_ptr<storage::embedded_blocks> open_blocks(storage::database& db) {
    auto b = storage::embedded_blocks::open(db, t0);
    BOOST_REQUIRE(b);
    return std::move(b).value();
  }

  // Records and commits one outcome, as the route does.
  login_result_outcome report(std::string_view ip, std::string_view user, bool success, std::int64_t now) {
    storage::change_set changes;
    auto out = test::record_inline(limiter, addr(ip), user, success, now, changes);
    BOOST_REQUIRE(out);
    if (!changes.ops.empty()) BOOST_REQUIRE(db->write(changes.ops));
    return std::move(out).value();
  }
  login_check check(std::string_view ip, std::optional<std::string_view> user, std::int64_t now) {
    auto out = check_login(limiter, addr(ip), user, now);
    BOOST_REQUIRE(out);
    return std::move(out).value();
  }

  login_config config;
  crypto::master_key master = test_master();
  std::unique_ptr<storage::database> db;
  storage::embedded_rate_counters counters;
  std::unique_ptr<storage::embedded_blocks> blocks;
  login_limiter limiter;
};

login_config ip_only(std::int64_t limit, bool shadow = false) {
  login_config cfg;
  cfg.rules = {login_rule{"ip", login_key_kind::ip, limit, 60, 3600, shadow}};
  return cfg;
}
}  // namespace

BOOST_AUTO_TEST_SUITE(login_limits_suite)

BOOST_AUTO_TEST_CASE(defaults_are_five_in_a_minute_for_an_hour_by_ip_and_username) {
  const auto rules = default_login_rules();
  BOOST_REQUIRE(rules.size() == 2U);
  for (const auto& rule : rules) {
    BOOST_TEST(rule.limit == 5);
    BOOST_TEST(rule.window_seconds == 60);
    BOOST_TEST(rule.block_seconds == 3600);
    BOOST_TEST(!rule.shadow);
  }
  BOOST_TEST((rules[0].kind == login_key_kind::ip));
  BOOST_TEST((rules[1].kind == login_key_kind::username));
}

BOOST_AUTO_TEST_CASE(fifth_failure_blocks_the_address_and_the_username) {
  test::temp_directory dir;
  node n(login_config{}, dir);
  storage::manual_clock clock{std::chrono::system_clock::time_point(std::chrono::milliseconds(t0))};
  for (int i = 1; i <= 4; ++i) {
    auto out = n.report("203.0.113.9", "alice", false, ms(clock));
    BOOST_TEST(out.newly_blocked.empty());
    BOOST_TEST(!out.state.blocked);
    clock.advance(std::chrono::seconds(1));
  }
  BOOST_TEST(!n.check("203.0.113.9", "alice", ms(clock)).blocked);
  auto fifth = n.report("203.0.113.9", "alice", false, ms(clock));
  BOOST_REQUIRE(fifth.newly_blocked.size() == 2U);
  BOOST_TEST(fifth.state.blocked);
  BOOST_TEST(fifth.state.retry_after_seconds == 3600);
  const auto user_key = n.limiter.username_key("alice");
  BOOST_REQUIRE(user_key);
  BOOST_TEST(fifth.newly_blocked[0].key == "203.0.113.9");
  BOOST_TEST(fifth.newly_blocked[1].key == *user_key);
  BOOST_TEST(fifth.user_key == *user_key);
  BOOST_TEST(user_key->find("alice") == std::string::npos);
  BOOST_TEST(user_key->size() == 5U + 32U);

  // The address is blocked for any username, the username from any address.
  BOOST_TEST(n.check("203.0.113.9", std::nullopt, ms(clock)).blocked);
  BOOST_TEST(n.check("198.51.100.1", "alice", ms(clock)).blocked);
  BOOST_TEST(!n.check("198.51.100.1", "bob", ms(clock)).blocked);
  // A further failure neither sets another block nor extends the one in force.
  clock.advance(std::chrono::seconds(10));
  auto sixth = n.report("203.0.113.9", "alice", false, ms(clock));
  BOOST_TEST(sixth.newly_blocked.empty());
  BOOST_TEST(sixth.state.retry_after_seconds == 3590);
}

BOOST_AUTO_TEST_CASE(retry_after_counts_down_to_the_block_end) {
  test::temp_directory dir;
  node n(ip_only(5), dir);
  storage::manual_clock clock{std::chrono::system_clock::time_point(std::chrono::milliseconds(t0))};
  for (int i = 0; i < 5; ++i) n.report("192.0.2.1", "u", false, ms(clock));
  clock.advance(std::chrono::milliseconds(1'234'500));
  auto state = n.check("192.0.2.1", std::nullopt, ms(clock));
  BOOST_TEST(state.blocked);
  // 3600 s - 1234.5 s = 2365.5 s, rounded up.
  BOOST_TEST(state.retry_after_seconds == 2366);
  BOOST_TEST(state.matched_key == "192.0.2.1");
  BOOST_TEST(state.rule == "ip");
  clock.advance(std::chrono::milliseconds(2'365'499));
  BOOST_TEST(n.check("192.0.2.1", std::nullopt, ms(clock)).retry_after_seconds == 1);
  clock.advance(std::chrono::milliseconds(1));
  BOOST_TEST(!n.check("192.0.2.1", std::nullopt, ms(clock)).blocked);
}

BOOST_AUTO_TEST_CASE(successes_do_not_count) {
  test::temp_directory dir;
  node n(login_config{}, dir);
  for (int i = 0; i < 20; ++i) {
    auto out = n.report("192.0.2.2", "carol", true, t0 + i);
    BOOST_TEST(out.newly_blocked.empty());
  }
  BOOST_TEST(!n.check("192.0.2.2", "carol", t0 + 20).blocked);
  for (int i = 0; i < 4; ++i) n.report("192.0.2.2", "carol", false, t0 + 30 + i);
  BOOST_TEST(!n.check("192.0.2.2", "carol", t0 + 40).blocked);
  BOOST_TEST(n.limiter.metrics().successes.load() == 20U);
  BOOST_TEST(n.limiter.metrics().failures.load() == 4U);
}

BOOST_AUTO_TEST_CASE(shadow_rules_count_but_never_block) {
  test::temp_directory dir;
  node n(ip_only(3, true), dir);
  std::size_t trips = 0;
  for (int i = 0; i < 10; ++i) {
    auto out = n.report("192.0.2.3", "dave", false, t0 + i);
    BOOST_TEST(out.newly_blocked.empty());
    BOOST_TEST(!out.state.blocked);
    trips += out.shadow_trips.size();
    if (i >= 2) {
      BOOST_REQUIRE(out.shadow_trips.size() == 1U);
      BOOST_TEST(out.shadow_trips[0].rule == "ip");
      BOOST_TEST(out.shadow_trips[0].key == "192.0.2.3");
      // Counted exactly by a log that keeps `limit` times (docs/shared-state.md): the value
      // reaches the limit and stays there.
      BOOST_TEST(out.shadow_trips[0].failures == 3.0);
    }
  }
  BOOST_TEST(trips == 8U);  // failures 3..10
  BOOST_TEST(n.limiter.metrics().shadow_trips.load() == 8U);
  BOOST_TEST(n.limiter.metrics().blocks_created.load() == 0U);
  auto listed = n.blocks->list(t0 + 20);
  BOOST_REQUIRE(listed);
  BOOST_TEST(listed->empty());
}

BOOST_AUTO_TEST_CASE(ipv6_addresses_in_one_64_share_a_counter) {
  test::temp_directory dir;
  node n(ip_only(5), dir);
  n.report("2001:db8:1:2::1", "a", false, t0);
  n.report("2001:db8:1:2:ffff::9", "b", false, t0 + 1);
  n.report("2001:db8:1:2:1:2:3:4", "c", false, t0 + 2);
  n.report("2001:db8:1:3::1", "d", false, t0 + 3);  // another /64: its own counter
  auto fifth = n.report("2001:db8:1:2::abcd", "e", false, t0 + 4);
  BOOST_TEST(fifth.newly_blocked.empty());  // four in the /64 so far
  fifth = n.report("2001:db8:1:2::5", "f", false, t0 + 5);
  BOOST_REQUIRE(fifth.newly_blocked.size() == 1U);
  BOOST_TEST(fifth.newly_blocked[0].key == "2001:db8:1:2::/64");
  BOOST_TEST(n.check("2001:db8:1:2:dead:beef:0:1", std::nullopt, t0 + 6).blocked);
  BOOST_TEST(!n.check("2001:db8:1:3::1", std::nullopt, t0 + 6).blocked);
  // IPv4 addresses are counted one by one.
  for (int i = 0; i < 4; ++i) n.report("198.51.100.7", "x", false, t0 + 10 + i);
  BOOST_TEST(!n.check("198.51.100.8", std::nullopt, t0 + 20).blocked);
}

BOOST_AUTO_TEST_CASE(usernames_are_normalized_and_never_stored_in_clear) {
  auto a = normalize_login_username("  Alice@Example.COM\t");
  BOOST_REQUIRE(a);
  BOOST_TEST(*a == "alice@example.com");
  BOOST_TEST(!normalize_login_username("   "));
  BOOST_TEST(!normalize_login_username(std::string(max_login_username + 1, 'x')));

  test::temp_directory dir;
  login_config cfg;
  cfg.rules = {login_rule{"user", login_key_kind::username, 2, 60, 3600, false},
               login_rule{"pair", login_key_kind::ip_username, 2, 60, 3600, false}};
  node n(std::move(cfg), dir);
  n.report("192.0.2.4", "alice@example.com", false, t0);
  auto second = n.report("192.0.2.4", "alice@example.com", false, t0 + 1);
  BOOST_REQUIRE(second.newly_blocked.size() == 2U);
  BOOST_TEST(second.newly_blocked[1].key.starts_with("192.0.2.4+user:"));
  BOOST_TEST(login_block_kind(second.newly_blocked[0].key) == "username");
  BOOST_TEST(login_block_kind(second.newly_blocked[1].key) == "ip+username");
  BOOST_TEST(login_block_kind("192.0.2.4") == "ip");
  // Nothing in RocksDB carries the username.
  bool clear_text_found = false;
  auto scanned = n.db->scan(storage::column_family::counters, storage::database::scan_direction::forward, "",
                            [&](std::string_view key, std::string_view value) {
                              clear_text_found |= key.find("alice") != std::string_view::npos ||
                                                  value.find("alice") != std::string_view::npos;
                              return true;
                            });
  BOOST_REQUIRE(scanned);
  BOOST_TEST(!clear_text_found);
}

BOOST_AUTO_TEST_CASE(blocks_survive_a_restart_and_lift_ends_them) {
  test::temp_directory dir;
  {
    node n(ip_only(5), dir);
    for (int i = 0; i < 5; ++i) n.report("192.0.2.5", "u", false, t0 + i);
  }
  {
    node n(ip_only(5), dir);
    auto state = n.check("192.0.2.5", std::nullopt, t0 + 1000);
    BOOST_TEST(state.blocked);
    storage::change_set changes;
    auto lifted = n.blocks->lift(login_block_key_from_admin_input("192.0.2.5"), t0 + 1000, changes);
    BOOST_REQUIRE(lifted);
    BOOST_REQUIRE(lifted->has_value());
    BOOST_REQUIRE(n.db->write(changes.ops));
    BOOST_TEST(!n.check("192.0.2.5", std::nullopt, t0 + 1001).blocked);
  }
  node n(ip_only(5), dir);
  BOOST_TEST(!n.check("192.0.2.5", std::nullopt, t0 + 2000).blocked);
}

BOOST_AUTO_TEST_CASE(admin_input_maps_to_block_keys) {
  BOOST_TEST(login_block_key_from_admin_input("203.0.113.9") == "203.0.113.9");
  BOOST_TEST(login_block_key_from_admin_input("2001:db8:1:2::77") == "2001:db8:1:2::/64");
  BOOST_TEST(login_block_key_from_admin_input("2001:db8:1:2::/64") == "2001:db8:1:2::/64");
  BOOST_TEST(login_block_key_from_admin_input("::ffff:203.0.113.9") == "203.0.113.9");
  BOOST_TEST(login_block_key_from_admin_input("user:00ff") == "user:00ff");
}

namespace {
// A ring of version 1 and, when rotated_at is given, version 2 created then (unix seconds; 0 =
// unknown), as `callsign keys rotate` writes it.
crypto::key_ring ring(std::optional<std::int64_t> rotated_at) {
  std::string text = "1 " + std::string(64, 'a') + "\n";
  if (rotated_at) text += "2 " + std::string(64, 'b') + " " + std::to_string(*rotated_at) + "\n";
  auto parsed = crypto::key_ring::parse(text);
  BOOST_REQUIRE(parsed);
  return std::move(parsed).value();
}

login_config username_only() {
  login_config cfg;
  cfg.rules = {login_rule{"user", login_key_kind::username, 5, 60, 3600, false}};
  return cfg;
}

// One database, counters and blocks that limiters from different key rings share, as one data
// directory does across `callsign keys rotate` and a restart.
struct shared_store {
  explicit shared_store(const test::temp_directory& dir)
      : db(node::open_db(dir)), counters(*db), blocks(node::open_blocks(*db)) {}

  login_result_outcome report(const login_limiter& limiter, std::string_view user, std::int64_t now) {
    storage::change_set changes;
    auto out = test::record_inline(limiter, addr("203.0.113.9"), user, false, now, changes);
    BOOST_REQUIRE(out);
    if (!changes.ops.empty()) BOOST_REQUIRE(db->write(changes.ops));
    return std::move(out).value();
  }
  login_check check(const login_limiter& limiter, std::string_view user, std::int64_t now) {
    auto out = check_login(limiter, addr("198.51.100.1"), user, now);
    BOOST_REQUIRE(out);
    return std::move(out).value();
  }

  std::unique_ptr<storage::database> db;
  storage::embedded_rate_counters counters;
  std::unique_ptr<storage::embedded_blocks> blocks;
};

// Before a rotation: a username rule and a limiter from a one-version ring.
struct before_rotation {
  test::temp_directory dir;
  shared_store store{dir};
  login_config cfg = username_only();
  crypto::key_ring old_ring = ring(std::nullopt);
  login_limiter before{cfg, old_ring, store.counters, *store.blocks};
};
}  // namespace

BOOST_FIXTURE_TEST_CASE(username_failures_keep_counting_across_a_key_rotation, before_rotation) {
  for (int i = 0; i < 3; ++i) BOOST_TEST(store.report(before, "alice", t0 + i * 1000).newly_blocked.empty());

  // Rotated and restarted: three failures are already in the window under the old key.
  const auto new_ring = ring(t0 / 1000 + 3);
  login_limiter after(cfg, new_ring, store.counters, *store.blocks);
  const auto old_key = before.username_key("alice");
  const auto new_key = after.username_key("alice");
  BOOST_REQUIRE(old_key);
  BOOST_REQUIRE(new_key);
  BOOST_TEST(*old_key != *new_key);
  BOOST_TEST(store.report(after, "alice", t0 + 4000).newly_blocked.empty());
  const auto fifth = store.report(after, "alice", t0 + 5000);
  BOOST_REQUIRE(fifth.newly_blocked.size() == 1U);
  BOOST_TEST(fifth.newly_blocked[0].key == *new_key);  // new state goes under the current key
  BOOST_TEST(fifth.state.blocked);
  BOOST_TEST(store.check(after, "alice", t0 + 6000).blocked);
  BOOST_TEST(!store.check(after, "bob", t0 + 6000).blocked);
}

BOOST_FIXTURE_TEST_CASE(a_username_block_set_before_a_rotation_holds_until_it_ends, before_rotation) {
  for (int i = 0; i < 5; ++i) store.report(before, "alice", t0 + i * 1000);
  const auto old_key = before.username_key("alice");
  BOOST_REQUIRE(old_key);
  BOOST_REQUIRE(store.check(before, "alice", t0 + 5000).blocked);

  const std::int64_t rotated_at = t0 / 1000 + 10;
  const auto new_ring = ring(rotated_at);
  login_limiter after(cfg, new_ring, store.counters, *store.blocks);
  auto held = store.check(after, "alice", t0 + 20'000);
  BOOST_TEST(held.blocked);
  BOOST_TEST(held.matched_key == *old_key);
  BOOST_TEST(held.retry_after_seconds == 3600 - 16);
  // A further failure sets no second block under the new key.
  auto further = store.report(after, "alice", t0 + 21'000);
  BOOST_TEST(further.newly_blocked.empty());
  BOOST_TEST(further.state.blocked);
  // The block ends when it was always going to.
  BOOST_TEST(!store.check(after, "alice", t0 + 4000 + 3600 * 1000 + 1000).blocked);

  // The previous key is consulted only while its state can be live: the longest username rule
  // window or block (3600 s) after the rotation.
  auto during = after.previous_username_key("alice", (rotated_at + 3599) * 1000);
  BOOST_REQUIRE(during);
  BOOST_REQUIRE(during->has_value());
  BOOST_TEST(**during == *old_key);
  auto past = after.previous_username_key("alice", (rotated_at + 3600) * 1000);
  BOOST_REQUIRE(past);
  BOOST_TEST(!past->has_value());
}

BOOST_AUTO_TEST_CASE(the_previous_key_is_always_consulted_when_the_rotation_time_is_unknown) {
  test::temp_directory dir;
  shared_store store(dir);
  const auto cfg = username_only();
  const auto unknown = ring(0);  // a hand-written line without created_at
  login_limiter limiter(cfg, unknown, store.counters, *store.blocks);
  auto far = limiter.previous_username_key("alice", std::numeric_limits<std::int64_t>::max() - 1);
  BOOST_REQUIRE(far);
  BOOST_TEST(far->has_value());
  // With one version, or with no username rule, there is nothing to consult.
  const auto single = ring(std::nullopt);
  login_limiter one(cfg, single, store.counters, *store.blocks);
  auto none = one.previous_username_key("alice", t0);
  BOOST_REQUIRE(none);
  BOOST_TEST(!none->has_value());
  login_config ip_rules = ip_only(5);
  login_limiter by_ip(ip_rules, unknown, store.counters, *store.blocks);
  auto unused = by_ip.previous_username_key("alice", t0);
  BOOST_REQUIRE(unused);
  BOOST_TEST(!unused->has_value());
}

BOOST_AUTO_TEST_SUITE_END()
