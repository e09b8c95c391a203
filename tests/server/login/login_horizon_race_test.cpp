// The limiter's key-rotation horizon under concurrent use (also in ./tools/tsan): login checks
// ask for the previous key while admins replace the rule file with longer and shorter username
// limits. The horizon only grows, so once a check has consulted the previous key at some time, no
// later check at that time may stop consulting it; and nothing may race.
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <thread>

#include "crypto/key_ring.hpp"
#include "server/login/login_limits.hpp"
#include "server/rules/rule_registry.hpp"
#include "storage/clock.hpp"
#include "storage/database.hpp"
#include "storage/embedded_blocks.hpp"
#include "storage/embedded_rate_counters.hpp"
#include "support/temp_directory.hpp"

using namespace callsign;
using namespace callsign::server;

namespace {
constexpr std::int64_t rotated_at = 1'700'000'000;  // unix seconds

std::string username_limit(std::int64_t period) {
  return "[[rate_limit]]\nid = \"user-fails\"\nexpression = \"not login.success\"\n"
         "characteristics = [\"login.username\"]\nlimit = 5\nperiod = " +
         std::to_string(period) + "\nmitigation_timeout = 60\n";
}
}  // namespace

BOOST_AUTO_TEST_SUITE(login_horizon_race)

BOOST_AUTO_TEST_CASE(the_horizon_only_grows_while_rule_files_change) {
  test::temp_directory dir;
  auto db = storage::database::open({dir.path() / "db", true});
  BOOST_REQUIRE(db);
  storage::embedded_rate_counters counters(**db);
  auto blocks = storage::embedded_blocks::open(**db, rotated_at * 1000);
  BOOST_REQUIRE(blocks);
  auto keys = crypto::key_ring::parse("1 " + std::string(64, 'a') + "\n2 " + std::string(64, 'b') + " " +
                                      std::to_string(rotated_at) + "\n");
  BOOST_REQUIRE(keys);
  login_config config;
  config.rules = {login_rule{"ip", login_key_kind::ip, 5, 60, 60, false}};
  login_limiter limiter(config, *keys, counters, **blocks);
  storage::manual_clock clock{std::chrono::system_clock::time_point(std::chrono::seconds(rotated_at))};
  rules_config rules;
  rule_registry registry(rules, config, dir.path(), clock, &limiter);

  const auto ip = *parse_ip_address("203.0.113.9");
  const std::int64_t probe_ms = (rotated_at + 1000) * 1000;  // inside the longer files' horizons only
  std::atomic<bool> stop{false};
  std::atomic<int> shrank{0};
  std::atomic<long> checked{0};
  auto checker = [&] {
    bool seen = false;
    while (!stop.load()) {
      auto state = check_login(limiter, ip, "alice", probe_ms);
      if (!state) {
        shrank.fetch_add(1);
        continue;
      }
      const bool consulted = !state->previous_user_key.empty();
      if (seen && !consulted) shrank.fetch_add(1);
      seen = seen || consulted;
      checked.fetch_add(1);
    }
  };
  std::thread a(checker);
  std::thread b(checker);
  for (int i = 0; i < 200; ++i) {
    // 600 s and then 1000..1199 s periods: the probe is inside the horizon from the second file on.
    const auto outcome = registry.replace(username_limit(i % 2 == 0 ? 600 : 1000 + i));
    BOOST_REQUIRE(std::holds_alternative<rules_change>(outcome));
  }
  stop.store(true);
  a.join();
  b.join();
  BOOST_TEST(shrank.load() == 0);
  BOOST_TEST(checked.load() > 0);
  BOOST_TEST(limiter.username_horizon_seconds() == 1199);
  auto last = limiter.previous_username_key("alice", probe_ms);
  BOOST_REQUIRE(last);
  BOOST_TEST(last->has_value());
}

BOOST_AUTO_TEST_SUITE_END()
