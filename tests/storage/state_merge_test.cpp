// Changes that reach disk in another order than they were made never move state backwards.
#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <random>
#include <string>
#include <vector>

#include "storage/database.hpp"
#include "storage/embedded_rate_counters.hpp"
#include "storage/embedded_replay_marks.hpp"
#include "storage/rate_window.hpp"
#include "storage/shared_state_format.hpp"
#include "support/temp_directory.hpp"

using namespace callsign;
using storage::column_family;

BOOST_AUTO_TEST_SUITE(state_merge_suite)

BOOST_AUTO_TEST_CASE(replay_mark_keeps_highest_step_when_commits_reorder) {
  test::temp_directory dir;
  {
    auto db = storage::database::open({dir.path() / "db", true});
    BOOST_REQUIRE(db);
    storage::embedded_replay_marks marks(**db);
    storage::change_set first;
    storage::change_set second;
    BOOST_REQUIRE(*marks.claim("u1", "phone_token", 5, first));
    BOOST_REQUIRE(*marks.claim("u1", "phone_token", 6, second));
    // The writer happens to commit the later claim first.
    BOOST_REQUIRE((*db)->write(second.ops));
    BOOST_REQUIRE((*db)->write(first.ops));
  }
  auto db = storage::database::open({dir.path() / "db", true});
  BOOST_REQUIRE(db);
  storage::embedded_replay_marks marks(**db);
  auto last = marks.last_step("u1", "phone_token");
  BOOST_REQUIRE(last);
  BOOST_REQUIRE(last->has_value());
  BOOST_TEST(**last == 6U);
  storage::change_set again;
  BOOST_TEST(!*marks.claim("u1", "phone_token", 6, again));
}

namespace {

constexpr std::int64_t window = 60'000;
constexpr std::int64_t t0 = 1'700'000'000'000;

// One key's authority (the embedded backend's memory) under random adds: mostly moving
// forward, sometimes a late time (a thread whose clock reading is older), sometimes a gap past
// the window. Returns every persisted state in the order they were made.
std::vector<std::string> snapshots_of(std::mt19937_64& rng, const storage::rate_limit& limit,
                                      storage::rate_window& authority, std::int64_t& last_now) {
  std::vector<std::string> out;
  std::int64_t now = t0;
  authority = storage::rate_window::empty(limit, now);
  for (int i = 0; i < 24; ++i) {
    const auto r = rng() % 10;
    now += r < 7 ? static_cast<std::int64_t>(rng() % 3'000) : r < 9 ? 0 : window + 1;
    const std::int64_t at = r == 8 ? now - static_cast<std::int64_t>(rng() % 500) : now;
    authority.add(1 + static_cast<std::int64_t>(rng() % 2), at);
    out.push_back(storage::encode_rate_window(authority));
    last_now = std::max(last_now, at);
  }
  return out;
}

// What the merge operator does with `stored` and an operand: decode both, merge, encode.
std::string merged(const std::string& stored, const std::string& operand) {
  auto a = storage::decode_rate_window(stored);
  auto b = storage::decode_rate_window(operand);
  BOOST_REQUIRE(a);
  BOOST_REQUIRE(b);
  return storage::encode_rate_window(storage::rate_window::merge(*a, *b));
}

void require_same_decisions(const std::string& bytes, const storage::rate_window& authority,
                            const storage::rate_limit& limit, std::int64_t from) {
  auto got = storage::decode_rate_window(bytes);
  BOOST_REQUIRE(got);
  for (std::int64_t t = from; t <= from + window; t += 997) {
    const auto a = got->measure(limit, t);
    const auto b = authority.measure(limit, t);
    BOOST_REQUIRE_EQUAL(a.value, b.value);
    BOOST_REQUIRE_EQUAL(a.retry_after_ms, b.retry_after_ms);
  }
}

}  // namespace

// Fuzz-like: the states one key's adds persist, merged in random orders and groupings (as
// commits that reorder and state-log folds do), always decide like the newest state.
BOOST_AUTO_TEST_CASE(log_merges_are_order_independent) {
  std::mt19937_64 rng(1616);
  for (int round = 0; round < 200; ++round) {
    const storage::rate_limit limit{1 + static_cast<std::int64_t>(rng() % 8), window};
    storage::rate_window authority;
    std::int64_t last_now = 0;
    auto states = snapshots_of(rng, limit, authority, last_now);
    for (int order = 0; order < 4; ++order) {
      std::shuffle(states.begin(), states.end(), rng);
      // Left fold, as one key's operands reach RocksDB one by one...
      std::string left = states.front();
      for (std::size_t i = 1; i < states.size(); ++i) left = merged(left, states[i]);
      require_same_decisions(left, authority, limit, last_now);
      // ...and random pairings, as folds that combine pending merges first.
      auto pool = states;
      while (pool.size() > 1) {
        const auto i = rng() % pool.size();
        auto a = pool[i];
        pool.erase(pool.begin() + static_cast<std::ptrdiff_t>(i));
        const auto j = rng() % pool.size();
        pool[j] = rng() % 2 ? merged(a, pool[j]) : merged(pool[j], a);
      }
      require_same_decisions(pool.front(), authority, limit, last_now);
    }
  }
}

BOOST_AUTO_TEST_CASE(a_changed_shape_merges_by_when_it_changed) {
  auto before = storage::rate_window::empty({5, window}, t0);
  before.add(3, t0);
  auto after = before;
  after.adapt({5, 10'000}, t0 + 5'000);  // a reload shortened the window
  after.add(1, t0 + 5'000);
  auto estimated = before;
  estimated.adapt({5'000, window}, t0 + 6'000);  // ...or raised the limit past the threshold
  estimated.add(1, t0 + 6'000);
  const auto legacy = storage::decode_rate_window(
      storage::encode_sliding_window(storage::sliding_window_counter{window, t0 - t0 % window + window, 9, 9}));
  BOOST_REQUIRE(legacy);
  const auto a = storage::encode_rate_window(before);
  const auto b = storage::encode_rate_window(after);
  const auto c = storage::encode_rate_window(estimated);
  const auto d = storage::encode_rate_window(*legacy);
  BOOST_TEST(merged(a, b) == b);
  BOOST_TEST(merged(b, a) == b);
  BOOST_TEST(merged(b, c) == c);
  BOOST_TEST(merged(c, b) == c);
  // A format-1 record is older than anything written since the upgrade, whatever it says.
  BOOST_TEST(merged(d, a) == a);
  BOOST_TEST(merged(a, d) == a);
  BOOST_TEST(merged(d, c) == c);
}

// Through RocksDB's own merge operator: the same states committed in random orders.
BOOST_AUTO_TEST_CASE(counter_keeps_newest_state_when_commits_reorder) {
  std::mt19937_64 rng(5);
  for (int round = 0; round < 4; ++round) {
    test::temp_directory dir;
    const storage::rate_limit limit{5, window};
    storage::rate_window authority;
    std::int64_t last_now = 0;
    auto states = snapshots_of(rng, limit, authority, last_now);
    std::shuffle(states.begin(), states.end(), rng);
    {
      auto db = storage::database::open({dir.path() / "db", true});
      BOOST_REQUIRE(db);
      for (const auto& value : states) {
        storage::change_set one;
        one.merge(column_family::counters, storage::sliding_window_record_key("k"), value);
        BOOST_REQUIRE((*db)->write(one.ops));
      }
    }
    auto db = storage::database::open({dir.path() / "db", true});
    BOOST_REQUIRE(db);
    storage::embedded_rate_counters counters(**db);
    for (std::int64_t t = last_now; t <= last_now + window; t += 1'999) {
      auto estimate = counters.estimate("k", t, limit);
      BOOST_REQUIRE(estimate);
      const auto expected = authority.measure(limit, t);
      BOOST_TEST(estimate->value == expected.value);
      BOOST_TEST(estimate->retry_after_ms == expected.retry_after_ms);
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
