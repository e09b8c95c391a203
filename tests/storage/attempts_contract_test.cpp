// The attempts contract (support/attempts_contract_cases.hpp) over the embedded composition of
// the RocksDB stores and over the in-memory fakes, plus the embedded-only case of a cold key
// moved to the blocking pool.
#include <boost/mpl/list.hpp>
#include <boost/test/unit_test.hpp>
#include <atomic>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "storage/blocking_pool.hpp"
#include "storage/database.hpp"
#include "storage/embedded_attempts.hpp"
#include "storage/embedded_blocks.hpp"
#include "storage/embedded_rate_counters.hpp"
#include "storage/embedded_replay_marks.hpp"
#include "support/memory_state_backend.hpp"
#include "support/temp_directory.hpp"

using namespace callsign;

namespace {

constexpr std::int64_t blocks_opened_ms = 1'800'000'000'000;

std::unique_ptr<storage::database> open_db(const test::temp_directory& dir) {
  auto db = storage::database::open({dir.path() / "db", true});
  BOOST_REQUIRE(db);
  return std::move(db).value();
}

std::unique_ptr<storage::embedded_blocks> open_blocks(storage::database& db) {
  auto blocks = storage::embedded_blocks::open(db, blocks_opened_ms);
  BOOST_REQUIRE(blocks);
  return std::move(blocks).value();
}

struct embedded_stores {
  explicit embedded_stores(storage::database& db) : marks(db), counters(db) {}
  storage::embedded_replay_marks marks;
  storage::embedded_rate_counters counters;
};

struct memory_stores {
  explicit memory_stores(storage::database&) {}
  test::memory_replay_marks marks;
  test::memory_rate_counters counters;
};

template <class Stores>
struct backend {
  test::temp_directory dir;
  std::unique_ptr<storage::database> db = open_db(dir);
  Stores stores{*db};
  std::unique_ptr<storage::embedded_blocks> blocks = open_blocks(*db);
  storage::embedded_code_attempts codes{stores.marks, stores.counters};
  storage::embedded_login_attempts logins{stores.counters, *blocks};

  // Settles one attempt and commits its changes, as a route does.
  storage::code_attempt_result settle(const storage::code_attempt& attempt) {
    storage::change_set changes;
    std::optional<result<storage::code_attempt_result>> answered;
    codes.settle(attempt, changes, [&](result<storage::code_attempt_result> r) { answered = std::move(r); });
    BOOST_REQUIRE(answered.has_value());
    BOOST_REQUIRE(answered->has_value());
    if (!changes.ops.empty()) BOOST_REQUIRE(db->write(changes.ops));
    return **answered;
  }
  // The same from a racing thread: no Boost.Test macro (they are not thread-safe); a failure
  // answers nullopt for the main thread to check. The changes are not written: the backends'
  // memory is what decides a race, and concurrent RocksDB writes from test threads would only
  // put RocksDB's own (uninstrumented) write grouping under ThreadSanitizer.
  std::optional<storage::code_attempt_result> settle_racing(const storage::code_attempt& attempt) {
    storage::change_set changes;
    std::optional<result<storage::code_attempt_result>> answered;
    codes.settle(attempt, changes, [&](result<storage::code_attempt_result> r) { answered = std::move(r); });
    if (!answered || !answered->has_value()) return std::nullopt;
    return **answered;
  }
  std::optional<storage::login_attempt_result> record_racing(const storage::login_attempt& attempt) {
    storage::change_set changes;
    std::optional<result<storage::login_attempt_result>> answered;
    logins.record(attempt, changes, [&](result<storage::login_attempt_result> r) { answered = std::move(r); });
    if (!answered || !answered->has_value()) return std::nullopt;
    return **answered;
  }

  storage::login_attempt_result record(const storage::login_attempt& attempt) {
    storage::change_set changes;
    std::optional<result<storage::login_attempt_result>> answered;
    logins.record(attempt, changes, [&](result<storage::login_attempt_result> r) { answered = std::move(r); });
    BOOST_REQUIRE(answered.has_value());
    BOOST_REQUIRE(answered->has_value());
    if (!changes.ops.empty()) BOOST_REQUIRE(db->write(changes.ops));
    return **answered;
  }
};

using attempt_backends = boost::mpl::list<backend<embedded_stores>, backend<memory_stores>>;

}  // namespace

// The cases of every backend (after attempt_backends, which they run over).
#include "support/attempts_contract_cases.hpp"  // IWYU pragma: keep

BOOST_AUTO_TEST_SUITE(attempts_contract_suite)

using callsign::test::attempts_contract::attempt_at;
using callsign::test::attempts_contract::t0;

// Not under ThreadSanitizer (tsan_tests): its forced compaction makes RocksDB's uninstrumented
// background thread read the info log's level, which TSan reports against the logger's
// creation (as for embedded_user_directory_test). The ASan tree runs it.
#if !defined(__SANITIZE_THREAD__)
BOOST_AUTO_TEST_CASE(a_cold_key_moves_the_attempt_to_the_blocking_pool_and_changes_nothing_first) {
  test::temp_directory dir;
  {
    auto db = open_db(dir);
    storage::embedded_replay_marks marks(*db);
    storage::embedded_rate_counters counters(*db);
    storage::embedded_code_attempts codes(marks, counters);
    storage::change_set changes;
    codes.settle(attempt_at(t0, 100), changes, [](result<storage::code_attempt_result> r) {
      BOOST_REQUIRE(r);
      BOOST_TEST(r->accepted);
    });
    BOOST_REQUIRE(db->write(changes.ops));
    BOOST_REQUIRE(db->compact(storage::column_family::replay_marks));
  }
  auto db = open_db(dir);
  storage::embedded_replay_marks marks(*db);
  storage::embedded_rate_counters counters(*db);
  storage::blocking_pool pool(1, "test-disk");
  std::atomic<bool> ran_on_pool{false};
  const auto caller = std::this_thread::get_id();
  storage::embedded_code_attempts codes(marks, counters, [&](std::function<void()> task) {
    pool.post([&, task = std::move(task)] {
      ran_on_pool = std::this_thread::get_id() != caller;
      task();
    });
  });
  storage::change_set changes;
  std::promise<result<storage::code_attempt_result>> promise;
  auto future = promise.get_future();
  const auto attempt = attempt_at(t0 + 1, 100);  // read by the pool's thread: alive until answered
  codes.settle(attempt, changes,
               [&](result<storage::code_attempt_result> r) { promise.set_value(std::move(r)); });
  auto out = future.get();
  BOOST_REQUIRE(out);
  BOOST_TEST(out->replayed);  // the mark on disk counts
  BOOST_TEST(codes.moved_to_blocking_work() == 1U);
  BOOST_TEST(ran_on_pool.load());
}

// A failure that trips a rule whose block key memory has forgotten (an expired block, still on
// disk): the block's revision must be read from disk, and that read happens on the blocking
// pool before anything changes, never on the caller's (I/O) thread under the key locks.
BOOST_AUTO_TEST_CASE(a_block_only_on_disk_moves_the_login_attempt_to_the_blocking_pool_first) {
  test::temp_directory dir;
  const std::string block_key = "ip-192.0.2.9";
  const std::int64_t now_ms = blocks_opened_ms + 60'000;
  auto db = open_db(dir);
  auto blocks = open_blocks(*db);  // memory holds no record of block_key
  {
    // An expired block of that key on disk and not in RocksDB's cache, as after a restart that
    // loaded only blocks in force and a while of other reads: written by another instance
    // here, then compacted into a table file.
    auto other = open_blocks(*db);
    storage::change_set changes;
    BOOST_REQUIRE(other->block(block_key, blocks_opened_ms + 1'000, "failures", blocks_opened_ms, changes));
    BOOST_REQUIRE(db->write(changes.ops));
    BOOST_REQUIRE(db->compact(storage::column_family::counters));
  }
  storage::embedded_rate_counters counters(*db);
  storage::blocking_pool pool(1, "test-disk");
  std::atomic<bool> ran_on_pool{false};
  const auto caller = std::this_thread::get_id();
  storage::embedded_login_attempts logins(counters, *blocks, [&](std::function<void()> task) {
    pool.post([&, task = std::move(task)] {
      ran_on_pool = std::this_thread::get_id() != caller;
      task();
    });
  });
  storage::login_attempt attempt;
  attempt.now_ms = now_ms;
  attempt.failure = true;
  storage::login_rule_step rule;
  rule.rule = "failures";
  rule.counter_key = "login/ip/192.0.2.9";
  rule.block_key = block_key;
  rule.limit = storage::rate_limit{1, 60'000};  // the first failure trips it
  rule.block_until_ms = now_ms + 60'000;
  attempt.rules.push_back(rule);
  attempt.check_keys.push_back(block_key);
  storage::change_set changes;
  std::promise<result<storage::login_attempt_result>> promise;
  auto future = promise.get_future();
  logins.record(attempt, changes, [&](result<storage::login_attempt_result> r) { promise.set_value(std::move(r)); });
  auto out = future.get();
  BOOST_REQUIRE(out);
  BOOST_REQUIRE(out->started.size() == 1U);
  BOOST_TEST(out->started[0].until_ms == now_ms + 60'000);
  BOOST_TEST(logins.moved_to_blocking_work() == 1U);
  BOOST_TEST(ran_on_pool.load());
  // The new record ranks above the one on disk: a reopen finds the new block in force.
  BOOST_REQUIRE(db->write(changes.ops));
  auto reopened = storage::embedded_blocks::open(*db, now_ms);
  BOOST_REQUIRE(reopened);
  auto found = (*reopened)->find(block_key, now_ms);
  BOOST_REQUIRE(found);
  BOOST_REQUIRE(found->has_value());
  BOOST_TEST((*found)->until_ms == now_ms + 60'000);
}
#endif

BOOST_AUTO_TEST_SUITE_END()
