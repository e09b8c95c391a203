#include "storage/rate_counters.hpp"

#include <boost/test/unit_test.hpp>
#include <cstdint>
#include <latch>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "storage/database.hpp"
#include "storage/embedded_rate_counters.hpp"
#include "storage/shared_state_format.hpp"
#include "storage/state_key.hpp"
#include "support/temp_directory.hpp"

using namespace callsign;
using storage::column_family;

namespace {

constexpr std::int64_t window = 60'000;
constexpr std::int64_t start = 1'200'000;

std::unique_ptr<storage::database> open_db(const test::temp_directory& dir) {
  auto db = storage::database::open({dir.path() / "db", true});
  BOOST_REQUIRE(db);
  return std::move(*db);
}

// Persists a change_set's ops in one batch, as the group-commit writer does.
void apply(storage::database& db, const storage::change_set& changes) {
  BOOST_REQUIRE(db.write(changes.ops));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(state_key_suite)

BOOST_AUTO_TEST_CASE(readable_keys_for_plain_parts) {
  BOOST_TEST(storage::state_key({"verify", "user", "u-42"}) == "verify/user/u-42");
  BOOST_TEST(storage::state_key({"verify", "ip", "10.0.0.1"}) == "verify/ip/10.0.0.1");
  BOOST_TEST(storage::state_key({"login", "ip6", "2001:db8::/64"}) == "login/ip6/2001:db8::%2F64");
  BOOST_TEST(storage::state_key({"a b", "100%", std::string_view("\0\xff", 2)}) == "a%20b/100%25/%00%FF");
}

BOOST_AUTO_TEST_CASE(no_two_part_lists_share_a_key) {
  const std::vector<std::string> atoms = {"", "a", "/", "%", "a/b", "%2F", "%25", std::string(1, '\0'), "ab", "b"};
  std::set<std::string> keys;
  std::size_t tuples = 0;
  std::vector<std::vector<std::string_view>> lists;
  for (const auto& x : atoms) {
    lists.push_back({x});
    for (const auto& y : atoms) {
      lists.push_back({x, y});
      for (const auto& z : atoms) {
        lists.push_back({x, y, z});
      }
    }
  }
  for (const auto& parts : lists) {
    const auto key = storage::state_key(parts);
    keys.insert(key);
    ++tuples;
    auto split = storage::split_state_key(key);
    BOOST_REQUIRE(split);
    BOOST_REQUIRE(split->size() == parts.size());
    for (std::size_t i = 0; i < parts.size(); ++i) {
      BOOST_TEST((*split)[i] == parts[i]);
    }
  }
  BOOST_TEST(keys.size() == tuples);
  // The case in the brief: a kind with a slash against an id with a slash.
  BOOST_TEST(storage::state_key({"verify/user", "x"}) != storage::state_key({"verify", "user/x"}));
}

BOOST_AUTO_TEST_CASE(split_refuses_strings_state_key_cannot_produce) {
  BOOST_TEST(!storage::split_state_key("a%2"));
  BOOST_TEST(!storage::split_state_key("a%zz"));
  BOOST_TEST(!storage::split_state_key("a%2f"));  // lower-case hex: a second spelling
  BOOST_TEST(!storage::split_state_key("a%41"));  // 'A' is never escaped
  BOOST_TEST(!storage::split_state_key("a b"));   // space must be escaped
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(embedded_rate_counters_suite)

BOOST_AUTO_TEST_CASE(add_and_estimate_follow_the_sliding_window) {
  test::temp_directory dir;
  auto db = open_db(dir);
  storage::embedded_rate_counters counters(*db);
  const auto key = storage::state_key({"verify", "user", "u1"});

  auto none = counters.estimate(key, start, window);
  BOOST_REQUIRE(none);
  BOOST_TEST(none->value == 0.0);
  BOOST_TEST(!storage::over_limit(*none, 5.0));

  storage::change_set changes;
  for (int i = 0; i < 4; ++i) {
    BOOST_REQUIRE(counters.add(key, 1, start + 50'000, window, changes));
  }
  auto fifth = counters.add(key, 1, start + 50'000, window, changes);
  BOOST_REQUIRE(fifth);
  BOOST_TEST(fifth->value == 5.0);
  BOOST_TEST(storage::over_limit(*fifth, 5.0));
  // 5 * (60000 - e) / 60000 < 5 needs e > 0 in the next window: just after start + 60000.
  BOOST_TEST(storage::retry_after_seconds(*fifth, 5.0) == 11);

  BOOST_REQUIRE(changes.ops.size() == 5U);
  const auto& last = changes.ops.back();
  BOOST_TEST((last.family == column_family::counters));
  BOOST_TEST(last.key == storage::sliding_window_record_key(key));
  auto stored = storage::decode_sliding_window(last.value);
  BOOST_REQUIRE(stored);
  BOOST_TEST(stored->current == 5);

  auto later = counters.estimate(key, start + 90'000, window);
  BOOST_REQUIRE(later);
  BOOST_TEST(later->value == 2.5);
  BOOST_TEST(!storage::over_limit(*later, 5.0));
  BOOST_TEST(storage::retry_after_seconds(*later, 5.0) == 0);
}

BOOST_AUTO_TEST_CASE(concurrent_adds_sum_exactly) {
  test::temp_directory dir;
  auto db = open_db(dir);
  storage::embedded_rate_counters counters(*db);
  constexpr int threads = 8;
  constexpr int adds = 500;
  std::latch go(threads);
  std::vector<std::thread> workers;
  std::vector<int> failures(threads, 0);
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      storage::change_set changes;
      go.arrive_and_wait();
      for (int i = 0; i < adds; ++i) {
        // One shared key plus one key per thread, so stripes see both contention and spread.
        if (!counters.add("shared", 1, start + 1'000, window, changes) ||
            !counters.add("own/" + std::to_string(t), 2, start + 1'000, window, changes)) {
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
  auto total = counters.estimate("shared", start + 1'000, window);
  BOOST_REQUIRE(total);
  BOOST_TEST(total->value == static_cast<double>(threads * adds));
  for (int t = 0; t < threads; ++t) {
    auto own = counters.estimate("own/" + std::to_string(t), start + 1'000, window);
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
    BOOST_REQUIRE(counters.add("verify/ip/10.0.0.1", 3, start + 5'000, window, changes));
    apply(*db, changes);
  }
  auto db = open_db(dir);
  storage::embedded_rate_counters counters(*db);
  auto loaded = counters.estimate("verify/ip/10.0.0.1", start + 70'000, window);
  BOOST_REQUIRE(loaded);
  BOOST_TEST(loaded->value == 3.0 * 50'000 / 60'000);
  storage::change_set changes;
  auto more = counters.add("verify/ip/10.0.0.1", 1, start + 70'000, window, changes);
  BOOST_REQUIRE(more);
  BOOST_TEST(more->window.previous == 3);
  BOOST_TEST(more->window.current == 1);
}

BOOST_AUTO_TEST_CASE(a_corrupt_record_is_an_error_not_a_zero) {
  test::temp_directory dir;
  auto db = open_db(dir);
  BOOST_REQUIRE(
      db->put(column_family::counters, storage::sliding_window_record_key("verify/user/secret-id"), "\x01junk"));
  storage::embedded_rate_counters counters(*db);
  auto read = counters.estimate("verify/user/secret-id", start, window);
  BOOST_REQUIRE(!read);
  BOOST_TEST((read.error().kind == error_kind::internal));
  BOOST_TEST(read.error().message.find("secret-id") == std::string::npos);
  storage::change_set changes;
  BOOST_TEST(!counters.add("verify/user/secret-id", 1, start, window, changes));
  BOOST_TEST(changes.ops.empty());
}

BOOST_AUTO_TEST_CASE(bad_arguments_are_refused) {
  test::temp_directory dir;
  auto db = open_db(dir);
  storage::embedded_rate_counters counters(*db);
  storage::change_set changes;
  BOOST_TEST(!counters.estimate("", start, window));
  BOOST_TEST(!counters.estimate(std::string(storage::max_rate_key + 1, 'k'), start, window));
  BOOST_TEST(!counters.estimate("k", -1, window));
  BOOST_TEST(!counters.estimate("k", start, 0));
  auto negative = counters.add("k", -1, start, window, changes);
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
    BOOST_REQUIRE(counters.add("ip/" + std::to_string(i), 1, start, window, changes));
  }
  BOOST_TEST(counters.cached_counters() == 1000U);
  BOOST_TEST(counters.sweep(start + 119'999) == 0U);
  BOOST_TEST(counters.sweep(start + 120'000) == 1000U);
  BOOST_TEST(counters.cached_counters() == 0U);

  // Without explicit sweeps, traffic on fresh keys keeps memory near the live key count.
  for (int i = 0; i < 20'000; ++i) {
    const std::int64_t now = start + std::int64_t{i} * 100;  // 600 adds per window
    BOOST_REQUIRE(counters.add("burst/" + std::to_string(i), 1, now, window, changes));
  }
  // 800 keys are live at the end (200 in the current window, 600 in the previous one); the
  // stripes hold at most 4,096 dead ones on top (1,024 stripes, a sweep at least every 4
  // operations on each; storage/src/striped_map.hpp).
  BOOST_TEST(counters.cached_counters() >= 800U);
  BOOST_TEST(counters.cached_counters() <= 800U + 4096U);
  BOOST_TEST(counters.sweep(start + 1'999'900) == counters.cached_counters() - 800U);
}

BOOST_AUTO_TEST_CASE(a_changed_window_keeps_the_count) {
  test::temp_directory dir;
  auto db = open_db(dir);
  storage::embedded_rate_counters counters(*db);
  storage::change_set changes;
  BOOST_REQUIRE(counters.add("k", 5, start, window, changes));
  // Estimating with another window does not rewrite the counter...
  auto shorter = counters.estimate("k", start + 30'000, 10'000);
  BOOST_REQUIRE(shorter);
  BOOST_TEST(shorter->value == 5.0);
  auto same = counters.estimate("k", start + 30'000, window);
  BOOST_REQUIRE(same);
  BOOST_TEST(same->window.window_ms == window);
  // ...adding does, carrying the count over.
  auto added = counters.add("k", 1, start + 30'000, 10'000, changes);
  BOOST_REQUIRE(added);
  BOOST_TEST(added->window.window_ms == 10'000);
  BOOST_TEST(added->value == 6.0);
}

BOOST_AUTO_TEST_SUITE_END()
