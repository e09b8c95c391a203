#include "storage/rate_counters.hpp"

#include <boost/test/unit_test.hpp>
#include <cstdint>
#include <latch>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "storage/database.hpp"
#include "storage/embedded_rate_counters.hpp"
#include "storage/shared_state_format.hpp"
#include "storage/state_key.hpp"
#include "rate_counters_support.hpp"
#include "support/temp_directory.hpp"

using namespace callsign;
using storage::column_family;

namespace {

using test::rate_counters::five;
using test::rate_counters::open_db;
using test::rate_counters::sneak;
using test::rate_counters::start;
using test::rate_counters::window;
// Also counted exactly, and estimated (two windows; above storage::max_exact_limit).
constexpr storage::rate_limit thousand{1000, window};
constexpr storage::rate_limit large{5000, window};

// Persists a change_set's ops in one batch, as the group-commit writer does.
void apply(storage::database& db, const storage::change_set& changes) {
  BOOST_REQUIRE(db.write(changes.ops));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(embedded_rate_counters_suite)

BOOST_AUTO_TEST_CASE(small_limits_count_exactly) {
  test::temp_directory dir;
  auto db = open_db(dir);
  storage::embedded_rate_counters counters(*db);
  const auto key = storage::state_key({"verify", "user", "u1"});

  auto none = counters.estimate(key, start, five);
  BOOST_REQUIRE(none);
  BOOST_TEST(none->value == 0.0);
  BOOST_TEST(none->exact);
  BOOST_TEST(!storage::over_limit(*none));

  storage::change_set changes;
  for (int i = 0; i < 4; ++i) {
    BOOST_REQUIRE(counters.add(key, 1, start + 50'000, five, changes));
  }
  auto fifth = counters.add(key, 1, start + 50'000, five, changes);
  BOOST_REQUIRE(fifth);
  BOOST_TEST(fifth->value == 5.0);
  BOOST_TEST(storage::over_limit(*fifth));
  // Exact: the five leave the window together, a whole window after they happened.
  BOOST_TEST(fifth->retry_after_ms == 60'000);
  BOOST_TEST(storage::retry_after_seconds(*fifth) == 60);

  BOOST_REQUIRE(changes.ops.size() == 5U);
  const auto& last = changes.ops.back();
  BOOST_TEST((last.family == column_family::counters));
  BOOST_TEST(last.key == storage::sliding_window_record_key(key));
  auto stored = storage::decode_rate_window(last.value);
  BOOST_REQUIRE(stored);
  BOOST_REQUIRE(stored->is_log());
  BOOST_TEST(std::get<storage::sliding_window_log>(stored->state).times.size() == 5U);

  // The estimate had faded to 2.5 here; the log still counts all five until the last ms.
  auto later = counters.estimate(key, start + 109'999, five);
  BOOST_REQUIRE(later);
  BOOST_TEST(later->value == 5.0);
  BOOST_TEST(storage::retry_after_seconds(*later) == 1);
  auto gone = counters.estimate(key, start + 110'000, five);
  BOOST_REQUIRE(gone);
  BOOST_TEST(gone->value == 0.0);
  BOOST_TEST(storage::retry_after_seconds(*gone) == 0);
}

BOOST_AUTO_TEST_CASE(large_limits_keep_the_two_window_estimate) {
  test::temp_directory dir;
  auto db = open_db(dir);
  storage::embedded_rate_counters counters(*db);
  storage::change_set changes;
  auto added = counters.add("k", 5000, start + 50'000, large, changes);
  BOOST_REQUIRE(added);
  BOOST_TEST(!added->exact);
  BOOST_TEST(added->value == 5000.0);
  // 5000 * (60000 - e) / 60000 < 5000 needs e > 0 in the next window: just after start + 60000.
  BOOST_TEST(storage::retry_after_seconds(*added) == 11);
  auto stored = storage::decode_rate_window(changes.ops.back().value);
  BOOST_REQUIRE(stored);
  BOOST_TEST(!stored->is_log());
  auto later = counters.estimate("k", start + 90'000, large);
  BOOST_REQUIRE(later);
  BOOST_TEST(later->value == 2500.0);
  BOOST_TEST(!storage::over_limit(*later));
}

BOOST_AUTO_TEST_CASE(concurrent_adds_sum_exactly) {
  test::temp_directory dir;
  auto db = open_db(dir);
  storage::embedded_rate_counters counters(*db);
  constexpr int threads = 8;
  constexpr int adds = 120;  // 960 on the shared key: all kept by a log of 1,000
  std::latch go(threads);
  std::vector<std::thread> workers;
  std::vector<int> failures(threads, 0);
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      storage::change_set changes;
      go.arrive_and_wait();
      for (int i = 0; i < adds; ++i) {
        // One shared key plus one key per thread, so stripes see both contention and spread;
        // each thread's clock runs on its own, so late adds land inside the log too.
        const std::int64_t now = start + 1'000 + (i * (t + 1)) % 500;
        if (!counters.add("shared", 1, now, thousand, changes) ||
            !counters.add("own/" + std::to_string(t), 2, now, thousand, changes) ||
            !counters.add("estimated", 1, now, large, changes)) {
          ++failures[static_cast<std::size_t>(t)];
        }
      }
    });
  }
  for (auto& w : workers) {
    w.join();
  }
  for (int f : failures) {
    BOOST_TEST(f == 0);
  }
  auto total = counters.estimate("shared", start + 1'500, thousand);
  BOOST_REQUIRE(total);
  BOOST_TEST(total->value == static_cast<double>(threads * adds));
  auto estimated = counters.estimate("estimated", start + 1'500, large);
  BOOST_REQUIRE(estimated);
  BOOST_TEST(estimated->value == static_cast<double>(threads * adds));
  for (int t = 0; t < threads; ++t) {
    auto own = counters.estimate("own/" + std::to_string(t), start + 1'500, thousand);
    BOOST_REQUIRE(own);
    BOOST_TEST(own->value == 2.0 * adds);
  }
}

BOOST_AUTO_TEST_CASE(counts_survive_a_restart) {
  test::temp_directory dir;
  {
    auto db = open_db(dir);
    storage::embedded_rate_counters counters(*db);
    storage::change_set changes;
    BOOST_REQUIRE(counters.add("verify/ip/10.0.0.1", 3, start + 5'000, five, changes));
    BOOST_REQUIRE(counters.add("verify/ip/10.0.0.1", 1, start + 6'000, five, changes));
    apply(*db, changes);
  }
  auto db = open_db(dir);
  storage::embedded_rate_counters counters(*db);
  auto loaded = counters.estimate("verify/ip/10.0.0.1", start + 64'999, five);
  BOOST_REQUIRE(loaded);
  BOOST_TEST(loaded->value == 4.0);
  storage::change_set changes;
  auto more = counters.add("verify/ip/10.0.0.1", 1, start + 65'000, five, changes);
  BOOST_REQUIRE(more);
  BOOST_TEST(more->value == 2.0);  // the three at start + 5000 have left
}

// A key missing from memory is answered without a disk read once its window reaches back no
// further than the counters' first call; before that, a count only on disk (written by the
// previous process) must still be found, however late the first call comes.
BOOST_AUTO_TEST_CASE(a_miss_reads_the_disk_until_nothing_there_can_count) {
  test::temp_directory dir;
  {
    auto db = open_db(dir);
    storage::embedded_rate_counters counters(*db);
    storage::change_set changes;
    BOOST_REQUIRE(counters.add("login/ip/192.0.2.9", 2, start + 1'000, five, changes));
    apply(*db, changes);
  }
  auto db = open_db(dir);
  storage::embedded_rate_counters counters(*db);
  // The first call (another key) at start + 2000; the old key, first asked at start + 30000:
  // its events are older than the first call but inside the window, so they come from disk.
  BOOST_REQUIRE(counters.estimate("login/ip/198.51.100.1", start + 2'000, five));
  auto old = counters.estimate("login/ip/192.0.2.9", start + 30'000, five);
  BOOST_REQUIRE(old);
  BOOST_TEST(old->value == 2.0);
  // Two windows after the first call a miss is an empty count, and nothing is kept for it.
  const auto cached = counters.cached_counters();
  auto fresh = counters.estimate("login/ip/203.0.113.77", start + 2'000 + 120'001, five);
  BOOST_REQUIRE(fresh);
  BOOST_TEST(fresh->value == 0.0);
  BOOST_TEST(counters.cached_counters() == cached);
  // Given the start, the horizon counts from it: an old count stays readable until then.
  storage::embedded_rate_counters started(*db);
  started.started_at(start + 500);
  auto early = started.estimate("login/ip/192.0.2.9", start + 60'000, five);
  BOOST_REQUIRE(early);
  BOOST_TEST(early->value == 2.0);
  auto late = started.estimate("login/ip/203.0.113.78", start + 500 + 120'001, five);
  BOOST_REQUIRE(late);
  BOOST_TEST(late->value == 0.0);
}

// The same horizon spares a first failure's read: past it, add() starts a key missing from
// memory at zero without reading the disk. A record put behind the counters' back (nothing in
// callsignd does this; past the horizon no real one can count) proves which way it went.
BOOST_AUTO_TEST_CASE(a_first_failure_reads_the_disk_only_before_the_horizon) {
  test::temp_directory dir;
  auto db = open_db(dir);
  storage::embedded_rate_counters counters(*db);
  counters.started_at(start);
  storage::change_set changes;
  sneak(*db, "verify/user/early", start + 10'000);
  auto early = counters.add("verify/user/early", 1, start + 20'000, five, changes);
  BOOST_REQUIRE(early);
  BOOST_TEST(early->value == 4.0);  // read from disk: 3 + 1
  const std::int64_t late_ms = start + 2 * window + 1;
  sneak(*db, "verify/user/late", late_ms - 1'000);
  auto late = counters.add("verify/user/late", 1, late_ms, five, changes);
  BOOST_REQUIRE(late);
  BOOST_TEST(late->value == 1.0);  // not read: only this failure counts
  auto again = counters.add("verify/user/late", 1, late_ms + 1, five, changes);
  BOOST_TEST(again->value == 2.0);  // and it is kept in memory from then on
}

// A data directory written before issue 16 holds format-1 (two-window) records. They load,
// and become logs that count at least what the estimate did: each event at the latest time
// its fixed window allows.
BOOST_AUTO_TEST_CASE(format_one_records_convert_conservatively) {
  test::temp_directory dir;
  auto db = open_db(dir);
  // Window [start, start + 60000) holds 3, the one before it 2.
  const storage::sliding_window_counter old{window, start, 2, 3};
  BOOST_REQUIRE(db->put(column_family::counters, storage::sliding_window_record_key("k"),
                        storage::encode_sliding_window(old)));
  storage::embedded_rate_counters counters(*db);
  const std::int64_t now = start + 20'000;
  auto read = counters.estimate("k", now, five);
  BOOST_REQUIRE(read);
  BOOST_TEST(read->exact);
  BOOST_TEST(read->value == 5.0);  // the estimate was 2 * 40/60 + 3 = 4.33; every event may still count
  BOOST_TEST(read->value >= old.estimate(now));
  // The previous window's two have surely left by start + 59999 (their latest time is start - 1).
  BOOST_TEST(read->retry_after_ms == start - 1 + window - now);
  // An add writes format 2 and counts the current window's three as at now (the latest they
  // can have been, as now is inside their window).
  storage::change_set changes;
  auto added = counters.add("k", 1, now, five, changes);
  BOOST_REQUIRE(added);
  BOOST_TEST(added->value == 5.0);  // two old, three converted, one new: the newest five kept
  BOOST_TEST(static_cast<std::uint8_t>(changes.ops.back().value[0]) == storage::rate_window_format_version);
  auto after = counters.estimate("k", start + window - 1, five);
  BOOST_REQUIRE(after);
  BOOST_TEST(after->value == 4.0);
  auto last = counters.estimate("k", now + window - 1, five);
  BOOST_REQUIRE(last);
  BOOST_TEST(last->value == 4.0);
  BOOST_TEST(counters.estimate("k", now + window, five)->value == 0.0);
}

BOOST_AUTO_TEST_CASE(a_corrupt_record_is_an_error_not_a_zero) {
  test::temp_directory dir;
  auto db = open_db(dir);
  BOOST_REQUIRE(
      db->put(column_family::counters, storage::sliding_window_record_key("verify/user/secret-id"), "\x01junk"));
  storage::embedded_rate_counters counters(*db);
  auto read = counters.estimate("verify/user/secret-id", start, five);
  BOOST_REQUIRE(!read);
  BOOST_TEST((read.error().kind == error_kind::internal));
  BOOST_TEST(read.error().message.find("secret-id") == std::string::npos);
  storage::change_set changes;
  BOOST_TEST(!counters.add("verify/user/secret-id", 1, start, five, changes));
  BOOST_TEST(changes.ops.empty());
}

BOOST_AUTO_TEST_CASE(bad_arguments_are_refused) {
  test::temp_directory dir;
  auto db = open_db(dir);
  storage::embedded_rate_counters counters(*db);
  storage::change_set changes;
  BOOST_TEST(!counters.estimate("", start, five));
  BOOST_TEST(!counters.estimate(std::string(storage::max_rate_key + 1, 'k'), start, five));
  BOOST_TEST(!counters.estimate("k", -1, five));
  BOOST_TEST(!counters.estimate("k", start, {5, 0}));
  BOOST_TEST(!counters.estimate("k", start, {0, window}));
  auto negative = counters.add("k", -1, start, five, changes);
  BOOST_REQUIRE(!negative);
  BOOST_TEST((negative.error().kind == error_kind::invalid_input));
  BOOST_TEST(changes.ops.empty());
}

BOOST_AUTO_TEST_CASE(expired_counters_leave_memory) {
  test::temp_directory dir;
  auto db = open_db(dir);
  storage::embedded_rate_counters counters(*db);
  storage::change_set changes;
  for (int i = 0; i < 1000; ++i) {
    BOOST_REQUIRE(counters.add("ip/" + std::to_string(i), 1, start, five, changes));
  }
  BOOST_TEST(counters.cached_counters() == 1000U);
  // A log expires one window after its newest event.
  BOOST_TEST(counters.sweep(start + 59'999) == 0U);
  BOOST_TEST(counters.sweep(start + 60'000) == 1000U);
  BOOST_TEST(counters.cached_counters() == 0U);

  // Without explicit sweeps, traffic on fresh keys keeps memory near the live key count.
  for (int i = 0; i < 20'000; ++i) {
    const std::int64_t now = start + std::int64_t{i} * 100;  // 600 adds per window
    BOOST_REQUIRE(counters.add("burst/" + std::to_string(i), 1, now, five, changes));
  }
  // 600 keys are live at the end (those of the last window); the stripes hold at most 16,384
  // dead ones on top (16,384 stripes, a sweep at least every operation on each;
  // storage/src/striped_map.hpp).
  BOOST_TEST(counters.cached_counters() >= 600U);
  BOOST_TEST(counters.cached_counters() <= 600U + 16384U);
  BOOST_TEST(counters.sweep(start + 1'999'900) == counters.cached_counters() - 600U);
}

BOOST_AUTO_TEST_CASE(a_changed_window_never_forgives_early) {
  test::temp_directory dir;
  auto db = open_db(dir);
  storage::embedded_rate_counters counters(*db);
  storage::change_set changes;
  const storage::rate_limit ten{10, window};
  BOOST_REQUIRE(counters.add("k", 5, start, ten, changes));
  // Estimating with a shorter window does not rewrite the counter; under it the five count
  // for a whole new window from now (their old end, start + 60000, is later).
  auto shorter = counters.estimate("k", start + 30'000, {5, 10'000});
  BOOST_REQUIRE(shorter);
  BOOST_TEST(shorter->value == 5.0);
  BOOST_TEST(shorter->retry_after_ms == 10'000);
  auto same = counters.estimate("k", start + 30'000, {5, window});
  BOOST_REQUIRE(same);
  BOOST_TEST(same->retry_after_ms == 30'000);
  // Adding does rewrite it, keeping the count.
  auto added = counters.add("k", 1, start + 30'000, {10, 10'000}, changes);
  BOOST_REQUIRE(added);
  BOOST_TEST(added->value == 6.0);
  auto stored = storage::decode_rate_window(changes.ops.back().value);
  BOOST_REQUIRE(stored);
  BOOST_TEST(stored->window_ms() == 10'000);
  // A longer window keeps the times: they count longer.
  BOOST_REQUIRE(counters.add("g", 5, start, {5, 10'000}, changes));
  auto longer = counters.estimate("g", start + 9'000, five);
  BOOST_REQUIRE(longer);
  BOOST_TEST(longer->retry_after_ms == 51'000);
}

BOOST_AUTO_TEST_CASE(a_limit_crossing_the_threshold_changes_the_kind) {
  test::temp_directory dir;
  auto db = open_db(dir);
  storage::embedded_rate_counters counters(*db);
  storage::change_set changes;
  BOOST_REQUIRE(counters.add("k", 5, start + 1'000, five, changes));
  auto estimated = counters.add("k", 1, start + 2'000, large, changes);
  BOOST_REQUIRE(estimated);
  BOOST_TEST(!estimated->exact);
  BOOST_TEST(estimated->value == 6.0);
  auto exact_again = counters.add("k", 1, start + 3'000, five, changes);
  BOOST_REQUIRE(exact_again);
  BOOST_TEST(exact_again->exact);
  BOOST_TEST(exact_again->value == 5.0);  // at least the limit: still refused
  BOOST_TEST(storage::over_limit(*exact_again));
}

BOOST_AUTO_TEST_SUITE_END()
