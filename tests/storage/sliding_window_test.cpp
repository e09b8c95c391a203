#include "storage/sliding_window.hpp"

#include <boost/test/unit_test.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "storage/rate_window.hpp"
#include "storage/shared_state_format.hpp"

using namespace callsign;
using storage::sliding_window_counter;

namespace {
constexpr std::int64_t window = 60'000;
constexpr std::int64_t start = 1'200'000;  // a multiple of the window
}  // namespace

BOOST_AUTO_TEST_SUITE(sliding_window_suite)

BOOST_AUTO_TEST_CASE(estimate_weights_the_previous_window_by_its_overlap) {
  auto c = sliding_window_counter::empty(window, start + 10'000);
  BOOST_TEST(c.window_start_ms == start);
  c.add(3, start + 10'000);
  BOOST_TEST(c.estimate(start + 10'000) == 3.0);
  BOOST_TEST(c.estimate(start + 59'999) == 3.0);
  // At the next boundary the whole previous window still overlaps, then it fades linearly.
  BOOST_TEST(c.estimate(start + 60'000) == 3.0);
  BOOST_TEST(c.estimate(start + 90'000) == 1.5);

  c.add(2, start + 90'000);  // rolls: previous = 3, current = 2
  BOOST_TEST(c.window_start_ms == start + 60'000);
  BOOST_TEST(c.previous == 3);
  BOOST_TEST(c.current == 2);
  BOOST_TEST(c.estimate(start + 90'000) == 3.5);
  BOOST_TEST(c.estimate(start + 120'000) == 2.0);
  BOOST_TEST(c.estimate(start + 135'000) == 1.5);
  BOOST_TEST(c.estimate(start + 179'999) > 0.0);
  BOOST_TEST(!c.expired(start + 179'999));
  // Two windows after the current one started, everything has expired.
  BOOST_TEST(c.estimate(start + 180'000) == 0.0);
  BOOST_TEST(c.expired(start + 180'000));
  BOOST_TEST(c.estimate(start + 10'000'000) == 0.0);
}

BOOST_AUTO_TEST_CASE(an_add_after_two_idle_windows_starts_from_zero) {
  auto c = sliding_window_counter::empty(window, start);
  c.add(7, start);
  c.add(1, start + 150'000);  // the window after next: the 7 no longer overlaps
  BOOST_TEST(c.window_start_ms == start + 120'000);
  BOOST_TEST(c.previous == 0);
  BOOST_TEST(c.current == 1);
  BOOST_TEST(c.estimate(start + 150'000) == 1.0);
}

BOOST_AUTO_TEST_CASE(a_late_add_is_counted_not_lost) {
  auto c = sliding_window_counter::empty(window, start);
  c.add(1, start + 60'000);
  c.add(4, start + 59'000);  // a caller whose clock reading predates the roll
  BOOST_TEST(c.window_start_ms == start + 60'000);
  BOOST_TEST(c.previous == 4);
  BOOST_TEST(c.current == 1);
  BOOST_TEST(c.estimate(start + 60'000) == 5.0);
  // Before the current window's start the estimate is the plain sum.
  BOOST_TEST(c.estimate(start + 59'000) == 5.0);
}

BOOST_AUTO_TEST_CASE(counts_saturate_instead_of_overflowing) {
  auto c = sliding_window_counter::empty(window, start);
  c.add(INT64_MAX, start);
  c.add(5, start);
  BOOST_TEST(c.current == INT64_MAX);
}

BOOST_AUTO_TEST_CASE(empty_counters_are_expired) {
  BOOST_TEST(sliding_window_counter::empty(window, start).expired(start));
}

BOOST_AUTO_TEST_CASE(retry_after_is_exact_in_the_current_window) {
  const sliding_window_counter c{window, start, 10, 0};
  // estimate = 10 * (60000 - e) / 60000 is exactly 5 at e = 30000, below 5 only after it.
  BOOST_TEST(c.retry_after_seconds(5.0, start) == 31);
  BOOST_TEST(c.estimate(start + 30'000) == 5.0);
  BOOST_TEST(c.estimate(start + 31'000) < 5.0);
  BOOST_TEST(c.retry_after_seconds(5.0, start + 500) == 30);  // 30.5 s later: e = 30500
  BOOST_TEST(c.retry_after_seconds(5.0, start + 29'999) == 1);
  BOOST_TEST(c.retry_after_seconds(5.0, start + 30'000) == 1);
  BOOST_TEST(c.retry_after_seconds(5.0, start + 30'001) == 0);
}

BOOST_AUTO_TEST_CASE(retry_after_crosses_into_the_next_window) {
  // current alone is over the limit, so only the next window's fading brings it down:
  // 10 * (60000 - e2) / 60000 < 5 once e2 > 30000, i.e. after start + 90000.
  const sliding_window_counter c{window, start, 0, 10};
  BOOST_TEST(c.retry_after_seconds(5.0, start) == 91);
  BOOST_TEST(c.retry_after_seconds(5.0, start + 59'000) == 32);

  // previous 6, current 4, limit 5: 6 * (60000 - e) / 60000 + 4 < 5 once e > 50000.
  const sliding_window_counter mixed{window, start, 6, 4};
  BOOST_TEST(mixed.estimate(start + 6'000) == 9.4, boost::test_tools::tolerance(1e-12));
  BOOST_TEST(mixed.retry_after_seconds(5.0, start + 6'000) == 45);

  // A fractional limit below one event waits for the last one to fade past half.
  const sliding_window_counter one{window, start, 0, 1};
  BOOST_TEST(one.retry_after_seconds(0.5, start + 59'000) == 32);
}

BOOST_AUTO_TEST_CASE(retry_after_is_zero_under_the_limit_and_bounded_without_one) {
  const sliding_window_counter c{window, start, 2, 1};
  BOOST_TEST(c.retry_after_seconds(5.0, start) == 0);
  // A limit of 0 is never satisfied: the answer is the time until everything has expired.
  const sliding_window_counter one{window, start, 0, 1};
  BOOST_TEST(one.retry_after_seconds(0.0, start + 1'000) == 119);
  BOOST_TEST(one.retry_after_seconds(0.0, start + 500'000) == 1);
}

BOOST_AUTO_TEST_CASE(retry_after_agrees_with_estimate_everywhere) {
  const double limits[] = {0.5, 1.0, 2.5, 5.0, 7.0};
  for (std::int64_t previous = 0; previous <= 12; previous += 3) {
    for (std::int64_t current = 0; current <= 12; current += 4) {
      const sliding_window_counter c{window, start, previous, current};
      for (std::int64_t now = start - 1'000; now <= start + 130'000; now += 777) {
        for (double limit : limits) {
          const auto s = c.retry_after_seconds(limit, now);
          if (c.estimate(now) < limit) {
            BOOST_TEST(s == 0);
            continue;
          }
          BOOST_TEST(s >= 1);
          BOOST_TEST(c.estimate(now + 1000 * s) < limit);
          if (s > 1) {
            BOOST_TEST(!(c.estimate(now + 1000 * (s - 1)) < limit));
          }
        }
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(a_new_window_length_carries_the_estimate_rounded_up) {
  const sliding_window_counter c{window, start, 3, 2};
  const auto moved = c.with_window(10'000, start + 30'000);  // estimate 3.5
  BOOST_TEST(moved.window_ms == 10'000);
  BOOST_TEST(moved.window_start_ms == start + 30'000);
  BOOST_TEST(moved.previous == 0);
  BOOST_TEST(moved.current == 4);
}

BOOST_AUTO_TEST_CASE(window_arguments_are_range_checked) {
  using callsign::storage::check_window_arguments;
  BOOST_TEST(static_cast<bool>(check_window_arguments(0, 1)));
  BOOST_TEST(
      static_cast<bool>(check_window_arguments(callsign::storage::max_time_ms, callsign::storage::max_window_ms)));
  BOOST_TEST(!check_window_arguments(-1, window));
  BOOST_TEST(!check_window_arguments(callsign::storage::max_time_ms + 1, window));
  BOOST_TEST(!check_window_arguments(start, 0));
  BOOST_TEST(!check_window_arguments(start, -60'000));
  BOOST_TEST(!check_window_arguments(start, callsign::storage::max_window_ms + 1));
  BOOST_TEST((check_window_arguments(start, 0).error().kind == callsign::error_kind::invalid_input));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(sliding_window_format_suite)

BOOST_AUTO_TEST_CASE(round_trips) {
  const storage::sliding_window_counter c{window, start, 3, 9};
  const auto bytes = storage::encode_sliding_window(c);
  BOOST_TEST(bytes.size() == 33U);
  BOOST_TEST(static_cast<int>(bytes[0]) == 1);
  auto back = storage::decode_sliding_window(bytes);
  BOOST_REQUIRE(back);
  BOOST_TEST((*back == c));
  BOOST_TEST(storage::sliding_window_record_key("verify/user/u") == "wverify/user/u");
}

BOOST_AUTO_TEST_CASE(corrupt_values_are_errors) {
  const auto good = storage::encode_sliding_window({window, start, 3, 9});
  std::vector<std::string> bad = {"", good.substr(0, 32), good + "x"};
  auto version = good;
  version[0] = 2;
  bad.push_back(version);
  bad.push_back(storage::encode_sliding_window({window, start, -1, 9}));
  bad.push_back(storage::encode_sliding_window({window, start, 3, -9}));
  bad.push_back(storage::encode_sliding_window({window, start + 1, 3, 9}));  // unaligned
  bad.push_back(storage::encode_sliding_window({0, 0, 3, 9}));
  bad.push_back(storage::encode_sliding_window({-window, start, 3, 9}));
  bad.push_back(storage::encode_sliding_window({window, -window, 3, 9}));
  bad.push_back(storage::encode_sliding_window({storage::max_window_ms * 2, 0, 3, 9}));
  for (const auto& value : bad) {
    auto decoded = storage::decode_sliding_window(value);
    BOOST_REQUIRE(!decoded);
    BOOST_TEST((decoded.error().kind == error_kind::internal));
    BOOST_TEST(decoded.error().message.find("corrupt") != std::string::npos);
  }
}

// Format 2 (issue 16): what the counters write now, an exact log or an estimate; format 1
// still reads, as a legacy estimate.
BOOST_AUTO_TEST_CASE(rate_window_round_trips_and_reads_format_one) {
  auto log = storage::rate_window::empty({5, window}, start);
  log.add(2, start + 10);
  log.add(1, start + 300);
  log.add(1, start + 50'000);  // distances of 0, 290 and 49700 ms: varints of 1, 2 and 3 bytes
  const auto bytes = storage::encode_rate_window(log);
  BOOST_TEST(static_cast<int>(bytes[0]) == 2);
  BOOST_TEST(bytes[1] == 'l');
  BOOST_TEST(bytes.size() == 26U + 8U + 1U + 2U + 3U);
  auto back = storage::decode_rate_window(bytes);
  BOOST_REQUIRE(back);
  BOOST_TEST((std::get<storage::sliding_window_log>(back->state) == std::get<storage::sliding_window_log>(log.state)));
  BOOST_TEST(back->as_of_ms == start + 50'000);
  BOOST_TEST(!back->legacy);

  auto estimate = storage::rate_window::empty({5'000, window}, start);
  estimate.add(7, start + 1);
  const auto estimated = storage::encode_rate_window(estimate);
  BOOST_TEST(estimated.size() == 42U);
  auto again = storage::decode_rate_window(estimated);
  BOOST_REQUIRE(again);
  BOOST_TEST((std::get<storage::sliding_window_counter>(again->state) ==
              std::get<storage::sliding_window_counter>(estimate.state)));

  const storage::sliding_window_counter old{window, start, 3, 9};
  auto legacy = storage::decode_rate_window(storage::encode_sliding_window(old));
  BOOST_REQUIRE(legacy);
  BOOST_TEST(legacy->legacy);
  BOOST_TEST((std::get<storage::sliding_window_counter>(legacy->state) == old));
  BOOST_TEST(storage::encode_rate_window(*legacy) == storage::encode_sliding_window(old));  // kept as it was
}

BOOST_AUTO_TEST_CASE(corrupt_rate_windows_are_errors) {
  auto window_log = storage::rate_window::empty({5, window}, start);
  window_log.add(1, start);
  window_log.add(1, start + 200);
  const auto good = storage::encode_rate_window(window_log);
  std::vector<std::string> bad = {"", std::string(1, '\x02'), good.substr(0, 17), good.substr(0, good.size() - 1),
                                  good + "x"};
  auto kind = good;
  kind[1] = 'z';
  bad.push_back(kind);
  auto version = good;
  version[0] = 3;
  bad.push_back(version);
  auto capacity = good;
  capacity[18 + 3] = 0;  // capacity 0
  bad.push_back(capacity);
  auto huge = good;
  huge[18 + 2] = 0x10;  // capacity 4096 > max_exact_limit
  bad.push_back(huge);
  auto many = good;
  many[18 + 7] = 6;  // six times, capacity five
  bad.push_back(many);
  auto overlong = good.substr(0, good.size() - 1);
  overlong += std::string(10, '\x80');  // a distance that never ends
  bad.push_back(overlong);
  auto negative = good;
  negative[26] = '\x80';  // the first time's sign bit
  bad.push_back(negative);
  for (const auto& value : bad) {
    auto decoded = storage::decode_rate_window(value);
    BOOST_REQUIRE(!decoded);
    BOOST_TEST((decoded.error().kind == error_kind::internal));
    BOOST_TEST(decoded.error().message.find("corrupt") != std::string::npos);
  }
}

BOOST_AUTO_TEST_SUITE_END()
