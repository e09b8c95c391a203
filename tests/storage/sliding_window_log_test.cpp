// The exact sliding-window log (issue 16, defect 3) at exact times: the window-edge attack
// that let the two-window estimate admit about twice its limit, Retry-After to the
// millisecond, window and limit changes, and the conservative conversions from and to the
// estimate.
#include "storage/sliding_window_log.hpp"

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <cstdint>
#include <random>
#include <type_traits>
#include <vector>

#include "storage/rate_window.hpp"

using namespace callsign;
using storage::sliding_window_counter;
using storage::sliding_window_log;

namespace {

constexpr std::int64_t edge = 1'700'000'000'000;  // a multiple of 20 s: a fixed-window edge
constexpr std::int64_t w20 = 20'000;

// What a throttle does with one key: refuse at the limit, otherwise count the attempt.
template <class Counter>
bool attempt(Counter& counter, std::int64_t limit, std::int64_t now) {
  double value = 0;
  if constexpr (std::is_same_v<Counter, sliding_window_log>) {
    value = static_cast<double>(counter.count(now));
  } else {
    value = counter.estimate(now);
  }
  if (!(value < static_cast<double>(limit))) return false;
  counter.add(1, now);
  return true;
}

// Most attempts accepted within any `window` ms, over accepted times in order.
std::size_t most_in_any_window(const std::vector<std::int64_t>& accepted, std::int64_t window) {
  std::size_t most = 0;
  std::size_t first = 0;
  for (std::size_t last = 0; last < accepted.size(); ++last) {
    while (accepted[last] - accepted[first] >= window) ++first;
    most = std::max(most, last - first + 1);
  }
  return most;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(sliding_window_log_suite)

BOOST_AUTO_TEST_CASE(window_edge_attack_is_refused_until_the_exact_millisecond) {
  auto log = sliding_window_log::empty(w20, 5);
  // Five wrong codes in the last 500 ms before a fixed-window edge.
  for (std::int64_t i = 0; i < 5; ++i) {
    BOOST_TEST(attempt(log, 5, edge - 500 + 100 * i));
  }
  // Just after the edge the estimate would see 5 * (1 - e / w) < 5 and admit; the log refuses
  // until the first of the five has been out of the window for 0 ms.
  for (std::int64_t t = edge; t < edge - 500 + w20; t += 250) {
    BOOST_TEST(!attempt(log, 5, t));
  }
  BOOST_TEST(!attempt(log, 5, edge - 500 + w20 - 1));
  BOOST_TEST(log.retry_after_ms(5, edge - 500 + w20 - 1) == 1);
  BOOST_TEST(attempt(log, 5, edge - 500 + w20));
  // The second of the five leaves 100 ms later: nothing more before then.
  BOOST_TEST(!attempt(log, 5, edge - 500 + w20 + 99));
  BOOST_TEST(attempt(log, 5, edge - 400 + w20));

  // The old estimate, for the record: the same burst, then an attempt every 100 ms.
  auto estimate = sliding_window_counter::empty(w20, edge - 500);
  for (std::int64_t i = 0; i < 5; ++i) {
    BOOST_TEST(attempt(estimate, 5, edge - 500 + 100 * i));
  }
  BOOST_TEST(attempt(estimate, 5, edge + 1));  // the sixth within 1.5 s
}

BOOST_AUTO_TEST_CASE(no_window_ever_holds_more_than_the_limit) {
  // An attacker who tries every 100 ms for three minutes, starting at various offsets to the
  // fixed windows: the log admits at most 5 in any 20 s; the estimate admitted up to 9.
  std::size_t estimate_most = 0;
  for (std::int64_t offset = 0; offset < w20; offset += 1'300) {
    auto log = sliding_window_log::empty(w20, 5);
    auto estimate = sliding_window_counter::empty(w20, edge + offset);
    std::vector<std::int64_t> by_log;
    std::vector<std::int64_t> by_estimate;
    for (std::int64_t t = edge + offset; t < edge + offset + 180'000; t += 100) {
      if (attempt(log, 5, t)) by_log.push_back(t);
      if (attempt(estimate, 5, t)) by_estimate.push_back(t);
    }
    BOOST_TEST(most_in_any_window(by_log, w20) == 5U);
    // Liveness: one attempt per 20 s window, the first as soon as the oldest left.
    BOOST_TEST(by_log.size() == 5U * 9U);
    estimate_most = std::max(estimate_most, most_in_any_window(by_estimate, w20));
  }
  BOOST_TEST(estimate_most >= 9U);
}

BOOST_AUTO_TEST_CASE(retry_after_is_the_time_until_the_limit_th_newest_leaves) {
  auto log = sliding_window_log::empty(60'000, 5);
  log.add(1, 1'000);
  log.add(2, 5'000);
  log.add(1, 9'000);
  BOOST_TEST(log.count(10'000) == 4);
  BOOST_TEST(log.retry_after_ms(5, 10'000) == 0);
  log.add(1, 10'000);
  BOOST_TEST(log.retry_after_ms(5, 10'000) == 51'000);  // the event at 1000 leaves at 61000
  BOOST_TEST(log.retry_after_ms(3, 10'000) == 55'000);  // against 3: the two at 5000 must leave
  BOOST_TEST(log.retry_after_ms(1, 10'000) == 60'000);
  BOOST_TEST(log.count(60'999) == 5);
  BOOST_TEST(log.count(61'000) == 4);
  BOOST_TEST(log.retry_after_ms(5, 61'000) == 0);
  // A late event (a thread whose clock reading is older) is placed in order and counted.
  log.add(1, 8'000);
  BOOST_TEST((log.times == std::vector<std::int64_t>{5'000, 5'000, 8'000, 9'000, 10'000}));
  BOOST_TEST(log.retry_after_ms(5, 10'000) == 55'000);
  // A limit of 0 is never satisfied: until everything has left.
  BOOST_TEST(log.retry_after_ms(0, 10'000) == 60'000);
}

BOOST_AUTO_TEST_CASE(add_keeps_the_newest_capacity_and_drops_what_left) {
  auto log = sliding_window_log::empty(1'000, 3);
  log.add(100, 50);  // a huge amount keeps `capacity` copies
  BOOST_TEST(log.times.size() == 3U);
  log.add(1, 500);
  BOOST_TEST((log.times == std::vector<std::int64_t>{50, 50, 500}));
  log.add(0, 1'050);  // an amount of 0 only drops what left (50 + 1000 <= 1050)
  BOOST_TEST((log.times == std::vector<std::int64_t>{500}));
  BOOST_TEST(!log.expired(1'499));
  BOOST_TEST(log.expired(1'500));
}

BOOST_AUTO_TEST_CASE(with_window_never_forgives_early) {
  auto log = sliding_window_log::empty(60'000, 5);
  log.add(2, 10'000);
  log.add(1, 40'000);
  // Shorter: each event counts until its old end or one new window from now, whichever first.
  auto shorter = log.with_window(10'000, 45'000);
  BOOST_TEST((shorter.times == std::vector<std::int64_t>{45'000, 45'000, 45'000}));
  BOOST_TEST(shorter.count(54'999) == 3);
  BOOST_TEST(shorter.count(55'000) == 0);
  auto slightly = log.with_window(50'000, 45'000);
  BOOST_TEST((slightly.times == std::vector<std::int64_t>{20'000, 20'000, 45'000}));
  BOOST_TEST(slightly.count(69'999) == 3);  // the two from 10000 end at 70000 as before
  BOOST_TEST(slightly.count(70'000) == 1);
  // Longer: the times stay, so they count longer.
  auto longer = log.with_window(120'000, 45'000);
  BOOST_TEST(longer.times == log.times);
  BOOST_TEST(longer.count(129'999) == 3);
  // Within one new window of the change the converted log counts at least what the old one
  // does; the longer window, always.
  for (std::int64_t t = 45'000; t < 200'000; t += 250) {
    if (t < 45'000 + 10'000) BOOST_TEST(shorter.count(t) >= log.count(t));
    if (t < 45'000 + 50'000) BOOST_TEST(slightly.count(t) >= log.count(t));
    BOOST_TEST(longer.count(t) >= log.count(t));
  }
}

BOOST_AUTO_TEST_CASE(set_capacity_keeps_the_newest) {
  auto log = sliding_window_log::empty(60'000, 10);
  for (std::int64_t t = 1; t <= 8; ++t) log.add(1, t * 1'000);
  log.set_capacity(5);
  BOOST_TEST((log.times == std::vector<std::int64_t>{4'000, 5'000, 6'000, 7'000, 8'000}));
  // Against the lower limit nothing changed: over it until the fifth newest (4000) leaves.
  BOOST_TEST(log.retry_after_ms(5, 9'000) == 55'000);
  log.set_capacity(10);
  BOOST_TEST(log.times.size() == 5U);
}

// From an old record: for random event times, the log built from their two-window counter
// counts at least the true number at every later moment (it places each event at the latest
// time its fixed window allows, but not after now).
BOOST_AUTO_TEST_CASE(from_estimate_never_counts_less_than_the_truth) {
  std::mt19937_64 rng(16);
  for (int round = 0; round < 300; ++round) {
    const std::int64_t window = 1'000 * static_cast<std::int64_t>(1 + rng() % 60);
    const std::int64_t base = edge + static_cast<std::int64_t>(rng() % 100'000);
    std::vector<std::int64_t> events;
    std::int64_t t = base;
    for (int i = 0; i < static_cast<int>(rng() % 12); ++i) {
      t += static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(window / 2 + 1));
      events.push_back(t);
    }
    auto counter = sliding_window_counter::empty(window, base);
    for (auto e : events) counter.add(1, e);
    const std::int64_t now = t + static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(window));
    const std::int64_t capacity = 1 + static_cast<std::int64_t>(rng() % 8);
    const auto log = sliding_window_log::from_estimate(counter, capacity, now);
    for (std::int64_t later = now; later < now + 2 * window; later += window / 7 + 1) {
      std::int64_t truth = 0;
      for (auto e : events) truth += later - e < window ? 1 : 0;
      BOOST_TEST(log.count(later) >= std::min(truth, capacity));
    }
  }
}

BOOST_AUTO_TEST_CASE(to_estimate_adds_each_event_at_its_time) {
  auto log = sliding_window_log::empty(w20, 10);
  log.add(2, edge - 5'000);
  log.add(3, edge + 1'000);
  const auto counter = log.to_estimate(edge + 2'000);
  BOOST_TEST(counter.window_start_ms == edge);
  BOOST_TEST(counter.previous == 2);
  BOOST_TEST(counter.current == 3);
  const auto none = sliding_window_log::empty(w20, 10).to_estimate(edge + 2'000);
  BOOST_TEST(none.estimate(edge + 2'000) == 0.0);
}

BOOST_AUTO_TEST_CASE(threshold_splits_exact_from_estimated) {
  const storage::rate_limit at_threshold{storage::max_exact_limit, 1};
  const storage::rate_limit above{storage::max_exact_limit + 1, 1};
  BOOST_TEST(at_threshold.exact());
  BOOST_TEST(!above.exact());
  BOOST_TEST((storage::rate_window::empty({5, w20}, edge).is_log()));
  BOOST_TEST(!(storage::rate_window::empty({5'000, w20}, edge).is_log()));
  BOOST_CHECK(!(storage::check_rate_arguments({0, w20}, edge)));
  BOOST_CHECK(!(storage::check_rate_arguments({storage::max_rate_limit + 1, w20}, edge)));
  BOOST_CHECK(!(storage::check_rate_arguments({5, 0}, edge)));
  BOOST_CHECK((storage::check_rate_arguments({5, w20}, edge)));
}

BOOST_AUTO_TEST_SUITE_END()
