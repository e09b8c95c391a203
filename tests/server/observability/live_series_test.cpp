#include "server/observability/live_series.hpp"

#include <boost/test/unit_test.hpp>
#include <thread>

#include "server/observability/console_series.hpp"

using namespace callsign::server;

namespace {

std::uint64_t value_of(const live_tick& tick, std::string_view name) {
  for (const auto& [n, v] : tick.values) {
    if (n == name) return v;
  }
  BOOST_FAIL("no value for " << name);
  return 0;
}

bool has_value(const live_tick& tick, std::string_view name) {
  for (const auto& [n, v] : tick.values) {
    if (n == name) return true;
  }
  return false;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(live_series_suite)

BOOST_AUTO_TEST_CASE(a_tick_stores_the_delta_since_the_last_tick) {
  live_series live;
  std::atomic<std::uint64_t> failures{0};
  live.add("login.failures", [&] { return failures.load(); });
  BOOST_TEST(live.snapshot().seconds == 0u);
  BOOST_TEST(live.snapshot().series.at("login.failures").empty());  // named before the first tick
  failures = 3;
  BOOST_TEST(live.tick(1000));
  failures = 10;
  BOOST_TEST(live.tick(1001));
  BOOST_TEST(live.tick(1002));  // nothing new
  auto last = live.last_tick();
  BOOST_TEST(last.t == 1002);
  BOOST_TEST(value_of(last, "login.failures") == 0u);
  auto history = live.snapshot();
  BOOST_TEST(history.start == 1000);
  BOOST_TEST(history.seconds == 3u);
  BOOST_TEST(history.series.at("login.failures") == (std::vector<std::uint32_t>{3, 7, 0}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(skipped_seconds_are_zeros_and_the_delta_goes_to_the_tick) {
  live_series live;
  std::uint64_t count = 0;
  live.add("blocks.new", [&] { return count; });
  count = 1;
  live.tick(500);
  count = 5;
  live.tick(502);  // 501 never ticked
  auto history = live.snapshot();
  BOOST_TEST(history.start == 500);
  BOOST_TEST(history.series.at("blocks.new") == (std::vector<std::uint32_t>{1, 0, 4}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_gap_longer_than_the_ring_clears_it) {
  live_series live;
  std::uint64_t count = 0;
  live.add("x", [&] { return count; });
  for (std::int64_t t = 1; t <= 10; ++t) {
    count += 2;
    live.tick(t);
  }
  count += 1;
  live.tick(10 + 5000);
  auto history = live.snapshot();
  BOOST_TEST(history.seconds == live_series_seconds);
  BOOST_TEST(history.start == 10 + 5000 - 3599);
  const auto& counts = history.series.at("x");
  BOOST_TEST(counts.back() == 1u);
  for (std::size_t i = 0; i + 1 < counts.size(); ++i) BOOST_TEST_REQUIRE(counts[i] == 0u);
}

BOOST_AUTO_TEST_CASE(the_history_keeps_the_last_hour_only) {
  live_series live;
  std::uint64_t count = 0;
  live.add("x", [&] { return count; });
  for (std::int64_t t = 1; t <= 3700; ++t) {
    count += static_cast<std::uint64_t>(t);  // second t counts t
    live.tick(t);
  }
  auto history = live.snapshot();
  BOOST_TEST(history.start == 101);
  BOOST_TEST(history.seconds == 3600u);
  BOOST_TEST(history.series.at("x").front() == 101u);
  BOOST_TEST(history.series.at("x").back() == 3700u);
}

BOOST_AUTO_TEST_CASE(a_tick_not_after_the_last_one_stores_nothing_and_the_count_waits) {
  live_series live;
  std::uint64_t count = 0;
  live.add("x", [&] { return count; });
  live.tick(100);
  count = 4;
  BOOST_TEST(!live.tick(100));  // the clock did not move on
  BOOST_TEST(!live.tick(99));   // or went back
  live.tick(101);
  BOOST_TEST(value_of(live.last_tick(), "x") == 4u);
  BOOST_TEST(live.snapshot().seconds == 2u);
}

BOOST_AUTO_TEST_CASE(a_counter_going_backwards_is_a_reset) {
  live_series live;
  std::vector<std::pair<std::string, std::uint64_t>> rules{{"rule_hits.a", 50}};
  live.add_dynamic([&](auto& out) { out.insert(out.end(), rules.begin(), rules.end()); });
  live.tick(1);
  rules = {{"rule_hits.a", 52}};
  live.tick(2);
  rules = {{"rule_hits.a", 3}};  // a new rule set counts from zero
  live.tick(3);
  auto history = live.snapshot();
  BOOST_TEST(history.series.at("rule_hits.a") == (std::vector<std::uint32_t>{50, 2, 3}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(dynamic_series_come_and_go) {
  live_series live;
  std::vector<std::pair<std::string, std::uint64_t>> rules{{"rule_hits.a", 1}};
  live.add_dynamic([&](auto& out) { out.insert(out.end(), rules.begin(), rules.end()); });
  live.tick(1);
  rules = {{"rule_hits.b", 2}, {"rule_shadow_hits.b", 1}};
  live.tick(2);
  auto tick = live.last_tick();
  BOOST_TEST(value_of(tick, "rule_hits.a") == 0u);  // gone: a zero while its hour lasts
  BOOST_TEST(value_of(tick, "rule_hits.b") == 2u);
  BOOST_TEST(value_of(tick, "rule_shadow_hits.b") == 1u);
  auto history = live.snapshot();
  BOOST_TEST(history.series.at("rule_hits.a") == (std::vector<std::uint32_t>{1, 0}), boost::test_tools::per_element());
  BOOST_TEST(history.series.at("rule_hits.b") == (std::vector<std::uint32_t>{0, 2}), boost::test_tools::per_element());
  // Reported again, it counts from zero (its old counter is gone).
  rules = {{"rule_hits.a", 4}};
  live.tick(3);
  BOOST_TEST(value_of(live.last_tick(), "rule_hits.a") == 4u);
  // An hour later without a report, it is dropped.
  rules.clear();
  live.tick(3 + 3600);
  BOOST_TEST(!has_value(live.last_tick(), "rule_hits.a"));
  BOOST_TEST(live.snapshot().series.count("rule_hits.b") == 0u);
}

BOOST_AUTO_TEST_CASE(the_messages_are_compact_json) {
  live_series live;
  std::uint64_t a = 0;
  live.add("verify.valid", [&] { return a; });
  a = 2;
  live.tick(7);
  live.tick(8);
  BOOST_TEST(live_history_message(live.snapshot()) ==
             R"({"type":"history","start":7,"seconds":2,"series":{"verify.valid":[2,0]}})");
  a = 5;
  live.tick(9);
  BOOST_TEST(live_tick_message(live.last_tick()) == R"({"type":"tick","t":9,"values":{"verify.valid":3}})");
}

BOOST_AUTO_TEST_CASE(console_series_read_the_login_and_verify_counters) {
  live_series live;
  login_metrics login;
  verify_metrics verify;
  add_console_series(live, &login, verify);
  live.tick(1);
  login.failures += 5;
  login.blocks_created += 1;
  login.checks_allowed += 2;
  login.checks_blocked += 3;
  login.checks_challenged += 4;
  login.open_proxy_matches += 6;
  login.exposed_credential_matches += 7;
  verify.valid += 8;
  verify.invalid += 9;
  verify.replayed += 10;
  verify.throttled += 11;
  live.tick(2);
  const auto tick = live.last_tick();
  BOOST_TEST(value_of(tick, "login.failures") == 5u);
  BOOST_TEST(value_of(tick, "blocks.new") == 1u);
  BOOST_TEST(value_of(tick, "login_checks.allow") == 2u);
  BOOST_TEST(value_of(tick, "login_checks.block") == 3u);
  BOOST_TEST(value_of(tick, "login_checks.challenge") == 4u);
  BOOST_TEST(value_of(tick, "matches.open_proxy") == 6u);
  BOOST_TEST(value_of(tick, "matches.exposed_credential") == 7u);
  BOOST_TEST(value_of(tick, "verify.valid") == 8u);
  BOOST_TEST(value_of(tick, "verify.invalid") == 9u);
  BOOST_TEST(value_of(tick, "verify.replayed") == 10u);
  BOOST_TEST(value_of(tick, "verify.throttled") == 11u);
  BOOST_TEST(tick.values.size() == 11u);
}

BOOST_AUTO_TEST_CASE(ticks_and_snapshots_from_several_threads) {
  live_series live;
  std::atomic<std::uint64_t> count{0};
  live.add("x", [&] { return count.load(); });
  std::thread ticker([&] {
    for (std::int64_t t = 1; t <= 2000; ++t) {
      count += 1;
      live.tick(t);
    }
  });
  for (int i = 0; i < 200; ++i) {
    auto during = live.snapshot();  // each snapshot is whole: every series has every second
    if (during.seconds > 0) BOOST_TEST_REQUIRE(during.series.at("x").size() == during.seconds);
  }
  ticker.join();
  auto history = live.snapshot();
  BOOST_TEST(history.seconds == 2000u);
  for (auto c : history.series.at("x")) BOOST_TEST_REQUIRE(c == 1u);
}

BOOST_AUTO_TEST_SUITE_END()
