// The contract of storage::login_counts (rate.login_failures.*, docs/rules.md) as Boost.Test cases
// templated over backends, so every backend runs the same suite: the embedded one over RocksDB and
// over the in-memory fake counters (tests/storage/login_counts_contract_test.cpp) and Redis
// (tests/shared_state/redis_login_counts_contract_test.cpp). Failures are counted the way the
// server counts them, through the same backend's login_attempts::record, and read back.
//
// Include it once per test program, after defining `login_counts_backends` (a boost::mpl::list of
// backend types), each default-constructible (a fresh, empty state) with
//   storage::login_attempt_result record(const storage::login_attempt&);  // Boost.Test checks
//   result<void> read(std::int64_t now_ms, std::span<const storage::count_read>, std::span<double>);
#pragma once

#include <boost/test/unit_test.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "storage/login_attempts.hpp"
#include "storage/login_counts.hpp"
#include "storage/rate_window.hpp"
#include "support/attempt_samples.hpp"

namespace callsign::test::login_counts_contract {

using attempts_contract::t0;

inline const std::string ip_counter =
    "login\x1fip\x1f"
    "192.0.2.9";  // attempts_contract::failure_at's key

// A failure under one rule of (limit, window) counting `counter`.
inline storage::login_attempt failure(std::int64_t now_ms, const std::string& counter, storage::rate_limit limit) {
  auto a = attempts_contract::failure_at(now_ms, limit.limit);
  a.rules[0].counter_key = counter;
  a.rules[0].limit = limit;
  a.rules[0].shadow = true;  // counted, never blocked: the counts alone are under test
  return a;
}

// The counts of `keys` at now_ms; a failed read fails the test.
template <class B>
std::vector<double> counts_at(B& b, std::int64_t now_ms, const std::vector<storage::count_read>& keys) {
  std::vector<double> out(keys.size(), -1.0);
  auto read = b.read(now_ms, keys, out);
  BOOST_REQUIRE_MESSAGE(read, (read ? std::string() : read.error().message));
  return out;
}

// What the storage arithmetic (rate_window.hpp, the reference every backend ports) says the count
// is after events at `times` counted under `counted`, measured at now_ms under `measured`.
inline double reference_count(const std::vector<std::int64_t>& times, storage::rate_limit counted,
                              storage::rate_limit measured, std::int64_t now_ms) {
  auto w = storage::rate_window::empty(counted, times.front());
  for (auto t : times) w.add(1, t);
  if (!w.fits(measured)) w.adapt(measured, now_ms);
  return w.measure(measured, now_ms).value;
}

}  // namespace callsign::test::login_counts_contract

BOOST_AUTO_TEST_SUITE(login_counts_contract_suite)

using namespace callsign;
using namespace callsign::test::login_counts_contract;

BOOST_AUTO_TEST_CASE_TEMPLATE(counts_after_n_recorded_failures, B, login_counts_backends) {
  B b;
  const storage::rate_limit ip_limit{5, 60'000};
  const std::string user_counter = "login\x1fusers\x1fuser:00112233445566778899aabbccddeeff";
  for (int i = 0; i < 3; ++i) b.record(failure(t0 + i * 1000, ip_counter, ip_limit));
  for (int i = 0; i < 2; ++i) b.record(failure(t0 + i * 1000, user_counter, {10, 600'000}));
  const std::vector<storage::count_read> keys{{ip_counter, ip_limit}, {user_counter, {10, 600'000}}};
  BOOST_TEST(counts_at(b, t0 + 5000, keys) == (std::vector<double>{3, 2}), boost::test_tools::per_element());
  // A read counts nothing: the next failure makes four, not more.
  BOOST_TEST(counts_at(b, t0 + 5000, keys) == (std::vector<double>{3, 2}), boost::test_tools::per_element());
  b.record(failure(t0 + 6000, ip_counter, ip_limit));
  BOOST_TEST(counts_at(b, t0 + 6000, keys) == (std::vector<double>{4, 2}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE_TEMPLATE(a_key_never_counted_reads_zero, B, login_counts_backends) {
  B b;
  b.record(failure(t0, ip_counter, {5, 60'000}));
  const std::vector<storage::count_read> keys{{"login\x1fip\x1f"
                                               "198.51.100.1",
                                               {5, 60'000}},
                                              {"login\x1fip\x1f"
                                               "198.51.100.2",
                                               {5000, 60'000}},
                                              {ip_counter, {5, 60'000}}};
  BOOST_TEST(counts_at(b, t0 + 1, keys) == (std::vector<double>{0, 0, 1}), boost::test_tools::per_element());
  // No keys: success, nothing to set.
  BOOST_TEST(counts_at(b, t0 + 1, {}).empty());
}

BOOST_AUTO_TEST_CASE_TEMPLATE(the_window_slides, B, login_counts_backends) {
  B b;
  const storage::rate_limit limit{5, 60'000};
  for (std::int64_t at : {t0, t0 + 10'000, t0 + 20'000}) b.record(failure(at, ip_counter, limit));
  const std::vector<storage::count_read> keys{{ip_counter, limit}};
  // A failure counts while it is later than now - window.
  BOOST_TEST(counts_at(b, t0 + 59'999, keys)[0] == 3.0);
  BOOST_TEST(counts_at(b, t0 + 60'000, keys)[0] == 2.0);
  BOOST_TEST(counts_at(b, t0 + 70'000, keys)[0] == 1.0);
  BOOST_TEST(counts_at(b, t0 + 80'000, keys)[0] == 0.0);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(a_large_limit_is_the_two_window_estimate, B, login_counts_backends) {
  B b;
  const storage::rate_limit limit{2000, 60'000};  // over max_exact_limit: estimated
  const std::vector<std::int64_t> times{t0 + 1000, t0 + 2000, t0 + 3000};
  for (auto at : times) b.record(failure(at, ip_counter, limit));
  const std::vector<storage::count_read> keys{{ip_counter, limit}};
  for (std::int64_t later : {30'000, 90'000, 100'000, 125'000}) {
    const auto want = reference_count(times, limit, limit, t0 + later);
    BOOST_TEST_CONTEXT("at t0 + " << later) {
      BOOST_TEST(counts_at(b, t0 + later, keys)[0] == want);
    }
  }
  BOOST_TEST(reference_count(times, limit, limit, t0 + 90'000) == 1.5);  // the half-weighted window
}

BOOST_AUTO_TEST_CASE_TEMPLATE(another_limit_is_measured_on_a_copy, B, login_counts_backends) {
  B b;
  const storage::rate_limit counted{5, 60'000};
  const std::vector<std::int64_t> times{t0, t0 + 10'000, t0 + 20'000};
  for (auto at : times) b.record(failure(at, ip_counter, counted));
  // A rule file reloaded with another window or kind reads what the arithmetic says...
  for (storage::rate_limit other :
       {storage::rate_limit{5, 30'000}, storage::rate_limit{2, 60'000}, storage::rate_limit{5000, 60'000}}) {
    const auto want = reference_count(times, counted, other, t0 + 40'000);
    BOOST_TEST_CONTEXT("limit " << other.limit << " window " << other.window_ms) {
      BOOST_TEST(counts_at(b, t0 + 40'000, {{ip_counter, other}})[0] == want);
    }
  }
  // ...and the stored history is unchanged.
  BOOST_TEST(counts_at(b, t0 + 40'000, {{ip_counter, counted}})[0] == 3.0);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(bad_arguments_are_refused, B, login_counts_backends) {
  B b;
  std::vector<double> out(1);
  const std::vector<storage::count_read> empty_key{{"", {5, 60'000}}};
  auto refused = b.read(t0, empty_key, out);
  BOOST_REQUIRE(!refused);
  BOOST_TEST(static_cast<int>(refused.error().kind) == static_cast<int>(error_kind::invalid_input));
  const std::vector<storage::count_read> no_limit{{ip_counter, {0, 60'000}}};
  BOOST_TEST(!b.read(t0, no_limit, out));
  std::vector<double> too_few;
  const std::vector<storage::count_read> one{{ip_counter, {5, 60'000}}};
  BOOST_TEST(!b.read(t0, one, too_few));
}

BOOST_AUTO_TEST_SUITE_END()
