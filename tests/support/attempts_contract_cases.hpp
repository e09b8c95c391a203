// The contract of storage::code_attempts and storage::login_attempts (one backend operation per
// verify, confirm and login result) as Boost.Test cases templated over backends, so every
// backend runs the same suite: the embedded stores and the in-memory fakes
// (tests/storage/attempts_contract_test.cpp) and Redis
// (tests/shared_state/redis_attempts_contract_test.cpp). Concurrency cases race real threads:
// exactly one claim of a step wins, and no more attempts pass a count than its limit allows.
//
// Include it once per test program, after defining `attempt_backends` (a boost::mpl::list of
// backend types), each default-constructible (a fresh, empty state) with
//   storage::code_attempt_result settle(const storage::code_attempt&);  // Boost.Test checks
//   storage::login_attempt_result record(const storage::login_attempt&);
//   std::optional<storage::code_attempt_result> settle_racing(const storage::code_attempt&);
//   std::optional<storage::login_attempt_result> record_racing(const storage::login_attempt&);
// (the racing ones from any thread, without Boost.Test macros: nullopt on failure).
#pragma once

#include <boost/test/unit_test.hpp>
#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "storage/code_attempts.hpp"
#include "storage/login_attempts.hpp"
#include "support/attempt_samples.hpp"

BOOST_AUTO_TEST_SUITE(attempts_contract_suite)

using namespace callsign;
using namespace callsign::test::attempts_contract;

BOOST_AUTO_TEST_CASE_TEMPLATE(a_step_is_accepted_once_and_an_earlier_one_never, B, attempt_backends) {
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

BOOST_AUTO_TEST_CASE_TEMPLATE(failures_count_until_the_limit_then_nothing_changes, B, attempt_backends) {
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

BOOST_AUTO_TEST_CASE_TEMPLATE(an_accepted_code_adds_no_failure_and_a_replay_does, B, attempt_backends) {
  B b;
  BOOST_TEST(b.settle(attempt_at(t0, 100, 2)).accepted);
  BOOST_TEST(b.settle(attempt_at(t0 + 1, 100, 2)).replayed);  // failure 1
  BOOST_TEST(b.settle(attempt_at(t0 + 2, 100, 2)).replayed);  // failure 2
  BOOST_TEST(b.settle(attempt_at(t0 + 3, 101, 2)).throttled);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(of_many_racing_claims_of_one_step_exactly_one_wins, B, attempt_backends) {
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
BOOST_AUTO_TEST_CASE_TEMPLATE(racing_failures_never_pass_a_limit_together, B, attempt_backends) {
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

BOOST_AUTO_TEST_CASE_TEMPLATE(a_login_failure_at_the_limit_blocks_once, B, attempt_backends) {
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
  callsign::storage::login_attempt success = failure_at(t0 + 6);
  success.failure = false;
  auto read = b.record(success);
  BOOST_TEST(read.counts.empty());
  BOOST_TEST(read.active[0].has_value());
}

BOOST_AUTO_TEST_CASE_TEMPLATE(racing_login_failures_start_one_block, B, attempt_backends) {
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

// Across a key rotation the previous key's count adds to the new one, and a block under the
// previous key counts as blocked.
BOOST_AUTO_TEST_CASE_TEMPLATE(a_previous_key_adds_its_count_and_its_block_counts, B, attempt_backends) {
  B b;
  auto old_key = failure_at(t0, 3);
  old_key.rules[0].counter_key = "login/user/old";
  old_key.rules[0].block_key = "user-old";
  old_key.check_keys = {"user-old"};
  b.record(old_key);
  b.record(old_key);  // two failures under the previous key
  auto rotated = failure_at(t0 + 1, 3);
  rotated.rules[0].counter_key = "login/user/new";
  rotated.rules[0].block_key = "user-new";
  rotated.rules[0].previous_counter_key = "login/user/old";
  rotated.rules[0].previous_block_key = "user-old";
  rotated.check_keys = {"user-new", "user-old"};
  auto out = b.record(rotated);
  BOOST_REQUIRE(out.counts.size() == 1U);
  BOOST_TEST(out.counts[0].failures == 3.0);  // 1 new + 2 previous
  BOOST_TEST(out.counts[0].tripped);
  BOOST_REQUIRE(out.started.size() == 1U);
  BOOST_TEST(out.started[0].key == "user-new");
  // A block under the previous key counts as blocked: no new block starts.
  b.record(old_key);  // the third old failure blocks user-old
  rotated.rules[0].counter_key = "login/user/new2";
  rotated.rules[0].block_key = "user-new2";
  rotated.check_keys = {"user-new2", "user-old"};
  auto blocked = b.record(rotated);
  BOOST_TEST(blocked.counts[0].tripped);
  BOOST_TEST(blocked.started.empty());
  BOOST_TEST(!blocked.active[0].has_value());
  BOOST_TEST(blocked.active[1].has_value());
}

BOOST_AUTO_TEST_CASE_TEMPLATE(a_shadow_rule_counts_and_never_blocks, B, attempt_backends) {
  B b;
  auto a = failure_at(t0, 1);
  a.rules[0].shadow = true;
  auto out = b.record(a);
  BOOST_TEST(out.counts[0].tripped);
  BOOST_TEST(out.started.empty());
  BOOST_TEST(!out.active[0].has_value());
  auto read = failure_at(t0 + 1, 1);
  read.failure = false;  // a success only reads the blocks back
  BOOST_TEST(!b.record(read).active[0].has_value());
}

BOOST_AUTO_TEST_SUITE_END()
