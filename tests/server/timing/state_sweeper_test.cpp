// The embedded backend's timer sweep (server/timing/state_sweeper.hpp): expired counters and
// blocks in stripes that nobody touches again leave memory within an interval, and the thread
// stops at once when destroyed.
#include "server/timing/state_sweeper.hpp"

#include <boost/test/unit_test.hpp>
#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "storage/database.hpp"
#include "storage/embedded_blocks.hpp"
#include "storage/embedded_rate_counters.hpp"
#include "support/temp_directory.hpp"

using namespace callsign;

BOOST_AUTO_TEST_SUITE(state_sweeper_suite)

BOOST_AUTO_TEST_CASE(expired_counters_and_blocks_leave_memory_without_further_traffic) {
  test::temp_directory dir;
  auto db = storage::database::open({dir.path() / "db", true});
  BOOST_REQUIRE(db);
  storage::manual_clock clock(std::chrono::system_clock::time_point(std::chrono::seconds(1'800'000'000)));
  const std::int64_t start_ms = clock.unix_ms();
  storage::embedded_rate_counters counters(**db);
  auto opened = storage::embedded_blocks::open(**db, start_ms);
  BOOST_REQUIRE(opened);
  auto& blocks = **opened;
  // An attack's worth of fresh keys, each used once: 3,000 counters and 1,000 blocks.
  storage::change_set changes;
  for (int i = 0; i < 3'000; ++i) {
    BOOST_REQUIRE(counters.add("login/ip/10.0." + std::to_string(i), 1, start_ms, {5, 60'000}, changes));
  }
  for (int i = 0; i < 1'000; ++i) {
    BOOST_REQUIRE(blocks.block("ip-10.1." + std::to_string(i), start_ms + 60'000, "failures", start_ms, changes));
  }
  // And one block in force for two hours: a sweep keeps it.
  BOOST_REQUIRE(blocks.block("ip-live", start_ms + 7'200'000, "failures", start_ms, changes));
  BOOST_REQUIRE(counters.cached_counters() == 3'000U);
  // An hour later nothing is in force, and no request touches those keys again.
  clock.advance(std::chrono::hours(1));
  server::state_sweeper sweeper(clock, std::chrono::milliseconds(10),
                                {[&](std::int64_t now_ms) { return counters.sweep(now_ms); },
                                 [&](std::int64_t now_ms) { return blocks.sweep(now_ms); }});
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (sweeper.dropped() < 4'000U && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  BOOST_TEST(sweeper.dropped() == 4'000U);
  BOOST_TEST(counters.cached_counters() == 0U);
  BOOST_TEST(!blocks.find("ip-10.1.7", clock.unix_ms())->has_value());
  BOOST_TEST(blocks.find("ip-live", clock.unix_ms())->has_value());
}

BOOST_AUTO_TEST_CASE(the_thread_stops_at_once) {
  storage::manual_clock clock(std::chrono::system_clock::time_point(std::chrono::seconds(1'800'000'000)));
  std::atomic<int> calls{0};
  const auto started = std::chrono::steady_clock::now();
  {
    server::state_sweeper sweeper(clock, std::chrono::hours(1), {[&](std::int64_t) {
                                    calls.fetch_add(1);
                                    return std::size_t{0};
                                  }});
    BOOST_TEST(sweeper.rounds() == 0U);
  }
  BOOST_TEST(calls.load() == 0);  // an hour's interval: no round before the stop
  BOOST_TEST((std::chrono::steady_clock::now() - started < std::chrono::seconds(5)));
}

BOOST_AUTO_TEST_SUITE_END()
