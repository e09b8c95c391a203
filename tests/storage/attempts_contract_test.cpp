// The contract of storage::code_attempts and storage::login_attempts (one backend operation per
// verify, confirm and login result), run over each backend: the embedded composition over the
// RocksDB stores, and over the in-memory fakes. A shared-state backend (Redis, issue 18) joins
// the backend list. Concurrency cases race real threads: exactly one claim of a step wins, and
// no more attempts pass a count than its limit allows.
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

constexpr std::int64_t t0 = 1'800'000'000'000;

std::unique_ptr<storage::database> open_db(const test::temp_directory& dir) {
  auto db = storage::database::open({dir.path() / "db", true});
  BOOST_REQUIRE(db);
  return std::move(db).value();
}

std::unique_ptr<storage::embedded_blocks> open_blocks(storage::database& db) {
  auto blocks = storage::embedded_blocks::open(db, t0);
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

using backends = boost::mpl::list<backend<embedded_stores>, backend<memory_stores>>;

storage::code_attempt attempt_at(std::int64_t now_ms, std::optional<std::uint64_t> step, std::int64_t limit = 5,
                                 std::string user = "alice") {
  storage::code_attempt a;
  a.now_ms = now_ms;
  a.failures = {{"verify\x1fuser\x1f" + user, {limit, 900'000}}, {"verify\x1f" "agent\x1f" "a1", {1000, 900'000}}};
  if (step) a.claim = storage::step_claim{user, "phone_token", *step};
  return a;
}

storage::login_attempt failure_at(std::int64_t now_ms, std::int64_t limit = 5) {
  storage::login_attempt a;
  a.now_ms = now_ms;
  a.failure = true;
  storage::login_rule_step rule;
  rule.rule = "ip";
  rule.counter_key = "login\x1fip\x1f" "192.0.2.9";
  rule.block_key = "192.0.2.9";
  rule.limit = {limit, 60'000};
  rule.block_until_ms = now_ms + 3'600'000;
  a.rules = {rule};
  a.check_keys = {"192.0.2.9"};
  return a;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(attempts_contract_suite)

BOOST_AUTO_TEST_CASE_TEMPLATE(a_step_is_accepted_once_and_an_earlier_one_never, B, backends) {
  B b;
  auto first = b.settle(attempt_at(t0, 100));
  BOOST_TEST(first.accepted);
  BOOST_TEST(!first.replayed);
  auto again = b.settle(attempt_at(t0 + 1, 100));
  BOOST_TEST(!again.accepted);
  BOOST_TEST(again.replayed);
  BOOST_TEST(b.settle(attempt_at(t0 + 2, 99)).replayed);
  BOOST_TEST(b.settle(attempt_at(t0 + 3, 101)).accepted);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(failures_count_until_the_limit_then_nothing_changes, B, backends) {
  B b;
  for (int i = 0; i < 5; ++i) {
    auto out = b.settle(attempt_at(t0 + i, std::nullopt));
    BOOST_TEST(!out.throttled);
    BOOST_TEST(!out.accepted);
  }
  // The sixth is throttled, and a correct code then claims nothing: its step stays unused.
  auto throttled = b.settle(attempt_at(t0 + 10, 100));
  BOOST_TEST(throttled.throttled);
  BOOST_TEST(!throttled.accepted);
  BOOST_TEST(throttled.retry_after_seconds >= 899);
  BOOST_TEST(throttled.retry_after_seconds <= 900);
  // Once the first failure leaves the 900 s window, one attempt passes again, and step 100 was
  // never taken.
  auto later = b.settle(attempt_at(t0 + 900'000, 100));
  BOOST_TEST(!later.throttled);
  BOOST_TEST(later.accepted);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(an_accepted_code_adds_no_failure_and_a_replay_does, B, backends) {
  B b;
  BOOST_TEST(b.settle(attempt_at(t0, 100, 2)).accepted);
  BOOST_TEST(b.settle(attempt_at(t0 + 1, 100, 2)).replayed);  // failure 1
  BOOST_TEST(b.settle(attempt_at(t0 + 2, 100, 2)).replayed);  // failure 2
  BOOST_TEST(b.settle(attempt_at(t0 + 3, 101, 2)).throttled);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(of_many_racing_claims_of_one_step_exactly_one_wins, B, backends) {
  B b;
  for (std::uint64_t step = 1000; step < 1040; ++step) {
    std::atomic<int> accepted{0};
    std::atomic<int> replayed{0};
    std::atomic<int> failed{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
      threads.emplace_back([&, step] {
        auto out = b.settle_racing(attempt_at(t0, step, 1'000'000));
        if (!out) {
          failed.fetch_add(1);
          return;
        }
        (out->accepted ? accepted : replayed).fetch_add(1);
      });
    }
    for (auto& thread : threads) thread.join();
    BOOST_TEST(failed.load() == 0);
    BOOST_TEST(accepted.load() == 1);
    BOOST_TEST(replayed.load() == 7);
  }
}

// Check-then-add as one step: with 16 threads racing wrong codes against a limit of 5, exactly
// 5 are counted and the rest are throttled. Without the attempt's key locks, several threads
// read 4 and all pass.
BOOST_AUTO_TEST_CASE_TEMPLATE(racing_failures_never_pass_a_limit_together, B, backends) {
  B b;
  for (int round = 0; round < 20; ++round) {
    const std::string user = "racer" + std::to_string(round);
    std::atomic<int> counted{0};
    std::atomic<int> throttled{0};
    std::atomic<int> failed{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 16; ++t) {
      threads.emplace_back([&] {
        auto out = b.settle_racing(attempt_at(t0, std::nullopt, 5, user));
        if (!out) {
          failed.fetch_add(1);
          return;
        }
        (out->throttled ? throttled : counted).fetch_add(1);
      });
    }
    for (auto& thread : threads) thread.join();
    BOOST_TEST(failed.load() == 0);
    BOOST_TEST(counted.load() == 5);
    BOOST_TEST(throttled.load() == 11);
  }
}

BOOST_AUTO_TEST_CASE_TEMPLATE(a_login_failure_at_the_limit_blocks_once, B, backends) {
  B b;
  for (int i = 0; i < 4; ++i) {
    auto out = b.record(failure_at(t0 + i));
    BOOST_REQUIRE(out.counts.size() == 1U);
    BOOST_TEST(out.counts[0].failures == i + 1);
    BOOST_TEST(!out.counts[0].tripped);
    BOOST_TEST(out.started.empty());
    BOOST_REQUIRE(out.active.size() == 1U);
    BOOST_TEST(!out.active[0].has_value());
  }
  auto fifth = b.record(failure_at(t0 + 4));
  BOOST_TEST(fifth.counts[0].tripped);
  BOOST_REQUIRE(fifth.started.size() == 1U);
  BOOST_TEST(fifth.started[0].until_ms == t0 + 4 + 3'600'000);
  BOOST_TEST(fifth.started[0].rule == "ip");
  BOOST_REQUIRE(fifth.active[0].has_value());
  // The sixth finds the block and does not extend it.
  auto sixth = b.record(failure_at(t0 + 5));
  BOOST_TEST(sixth.started.empty());
  BOOST_TEST(sixth.active[0]->until_ms == t0 + 4 + 3'600'000);
  // A success changes nothing, and reads the block back.
  storage::login_attempt success = failure_at(t0 + 6);
  success.failure = false;
  auto read = b.record(success);
  BOOST_TEST(read.counts.empty());
  BOOST_TEST(read.active[0].has_value());
}

BOOST_AUTO_TEST_CASE_TEMPLATE(racing_login_failures_start_one_block, B, backends) {
  B b;
  std::atomic<int> started{0};
  std::atomic<int> failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 12; ++t) {
    threads.emplace_back([&] {
      auto out = b.record_racing(failure_at(t0));
      if (!out) {
        failed.fetch_add(1);
        return;
      }
      started.fetch_add(static_cast<int>(out->started.size()));
    });
  }
  for (auto& thread : threads) thread.join();
  BOOST_TEST(failed.load() == 0);
  BOOST_TEST(started.load() == 1);
}

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
#endif

BOOST_AUTO_TEST_SUITE_END()
