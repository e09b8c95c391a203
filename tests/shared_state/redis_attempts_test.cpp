// What only the Redis backend of the attempts has: the fence after a primary switch, the
// primary check that sets it, WAIT for a replica, Redis going away, one round trip per attempt,
// defensive reading of replies, racing threads on one Redis, and the counters' arithmetic
// against the embedded one's (the same rate_window math, ported to Lua).
#include <boost/mpl/list.hpp>
#include <boost/test/unit_test.hpp>
#include <atomic>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "redis_backend_fixture.hpp"
#include "shared_state/attempt_functions.hpp"
#include "storage/embedded_attempts.hpp"
#include "support/attempt_samples.hpp"
#include "support/memory_state_backend.hpp"

using namespace callsign;
using test::attempts_contract::attempt_at;
using test::attempts_contract::t0;

namespace {

std::string fence_primary(test::redis_process& server, const std::string& run_id, std::int64_t now_ms) {
  return server.command({"FCALL", "callsign_fence_primary", "2", "cs:fence", "cs:primary", run_id,
                         std::to_string(now_ms)});
}

storage::code_attempt claim_started_at(std::int64_t now_ms, std::uint64_t step, std::int64_t step_start_ms) {
  auto a = attempt_at(now_ms, step);
  a.claim->step_start_ms = step_start_ms;
  return a;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(redis_attempts_suite)

BOOST_AUTO_TEST_CASE(a_step_that_began_at_or_before_the_fence_is_refused) {
  test::redis_backend b;
  BOOST_TEST(fence_primary(b.server, "run-a", t0 + 30'000) == ":1800000030000\r\n");
  auto at_fence = b.settle(claim_started_at(t0 + 40'000, 100, t0 + 30'000));
  BOOST_TEST(at_fence.replayed);
  BOOST_TEST(!at_fence.accepted);
  BOOST_TEST(b.settle(claim_started_at(t0 + 40'001, 100, t0 + 29'000)).replayed);
  // The next step, begun after the switch, is accepted; the refused ones counted as failures.
  auto after = b.settle(claim_started_at(t0 + 40'002, 101, t0 + 30'001));
  BOOST_TEST(after.accepted);
  BOOST_TEST(b.server.command({"GET", "cs:{u:alice}:mark:phone_token"}) == "$3\r\n101\r\n");
}

BOOST_AUTO_TEST_CASE(the_fence_moves_only_for_a_new_primary_and_never_back) {
  test::redis_backend b;
  BOOST_TEST(fence_primary(b.server, "run-a", 5000) == ":5000\r\n");
  BOOST_TEST(fence_primary(b.server, "run-a", 7000) == ":5000\r\n");  // same primary: unchanged
  BOOST_TEST(fence_primary(b.server, "run-b", 6000) == ":6000\r\n");  // a switch
  BOOST_TEST(fence_primary(b.server, "run-c", 4000) == ":6000\r\n");  // an older clock: not lowered
  BOOST_TEST(b.server.command({"GET", "cs:primary"}) == "$5\r\nrun-c\r\n");
  // The setup commands a new connection runs: the library, then this check.
  const auto setup = shared_state::attempts_setup_commands("run-d", 9000);
  BOOST_REQUIRE(setup.size() == 2U);
  BOOST_TEST(b.server.command(setup[0]) == "$17\r\ncallsign_attempts\r\n");
  BOOST_TEST(b.server.command(setup[1]) == ":9000\r\n");
}

// The user's hash tag ends at the first '}', so user and method are escaped: no two pairs share
// a mark, and a user's marks share one slot.
BOOST_AUTO_TEST_CASE(mark_keys_are_one_per_user_and_method) {
  BOOST_TEST(shared_state::mark_key("u-42", "phone_token") == "cs:{u:u-42}:mark:phone_token");
  BOOST_TEST(shared_state::mark_key("a}:mark:b", "c") == "cs:{u:a%7D:mark:b}:mark:c");
  BOOST_TEST(shared_state::mark_key("a", "b}:mark:c") == "cs:{u:a}:mark:b%7D:mark:c");
  BOOST_TEST(shared_state::mark_key("{x}", "m") == "cs:{u:%7Bx%7D}:mark:m");
}

BOOST_AUTO_TEST_CASE(a_claim_without_its_step_start_is_invalid_input) {
  test::redis_backend b;
  auto a = attempt_at(t0, 100);
  a.claim->step_start_ms.reset();
  auto out = b.try_settle(a);
  BOOST_REQUIRE(!out);
  BOOST_TEST(static_cast<int>(out.error().kind) == static_cast<int>(error_kind::invalid_input));
  BOOST_TEST(b.client.execs() == 0U);
}

BOOST_AUTO_TEST_CASE(an_unacknowledged_write_is_unavailable_and_the_step_stays_burnt) {
  test::redis_backend waiting({.wait_replicas = 1, .wait_timeout_ms = 50});
  auto out = waiting.try_settle(attempt_at(t0, 100));
  BOOST_REQUIRE(!out);
  BOOST_TEST(static_cast<int>(out.error().kind) == static_cast<int>(error_kind::unavailable));
  BOOST_TEST(out.error().message.find("replica") != std::string::npos);
  BOOST_TEST(out.error().message.find("alice") == std::string::npos);
  BOOST_TEST(waiting.client.execs() == 1U);  // FCALL and WAIT in one exec
  // The claim was made on the primary: the same step is refused from now on.
  test::blocking_redis_client plain_client(waiting.server.port());
  shared_state::redis_code_attempts plain(plain_client);
  storage::change_set changes;
  auto again = test::wait_for<storage::code_attempt_result>(
      [&](auto done) { plain.settle(attempt_at(t0 + 1, 100), changes, done); });
  BOOST_REQUIRE(again);
  BOOST_TEST(again->replayed);
}

BOOST_AUTO_TEST_CASE(the_production_client_pipelines_the_wait_as_well) {
  test::production_redis_backend waiting({.wait_replicas = 1, .wait_timeout_ms = 50});
  auto out = waiting.try_settle(attempt_at(t0, 100));
  BOOST_REQUIRE(!out);
  BOOST_TEST(static_cast<int>(out.error().kind) == static_cast<int>(error_kind::unavailable));
  BOOST_TEST(out.error().message.find("replica") != std::string::npos);
  shared_state::redis_code_attempts plain(waiting.client);
  storage::change_set changes;
  auto again = test::wait_for<storage::code_attempt_result>(
      [&](auto done) { plain.settle(attempt_at(t0 + 1, 100), changes, done); });
  BOOST_REQUIRE(again);
  BOOST_TEST(again->replayed);
}

BOOST_AUTO_TEST_CASE(a_stopped_redis_answers_unavailable) {
  test::temp_directory dir;
  test::redis_process lone(dir.path(), {.name = "lone"});
  test::blocking_redis_client client(lone.port());
  shared_state::redis_code_attempts codes(client);
  shared_state::redis_login_attempts logins(client);
  BOOST_REQUIRE_EQUAL(lone.stop(), 0);
  storage::change_set changes;
  auto settled = test::wait_for<storage::code_attempt_result>(
      [&](auto done) { codes.settle(attempt_at(t0, 100), changes, done); });
  BOOST_REQUIRE(!settled);
  BOOST_TEST(static_cast<int>(settled.error().kind) == static_cast<int>(error_kind::unavailable));
  BOOST_TEST(settled.error().message == "shared state unavailable");
  auto recorded = test::wait_for<storage::login_attempt_result>(
      [&](auto done) { logins.record(test::attempts_contract::failure_at(t0), changes, done); });
  BOOST_REQUIRE(!recorded);
  BOOST_TEST(static_cast<int>(recorded.error().kind) == static_cast<int>(error_kind::unavailable));
  BOOST_TEST(changes.ops.empty());
}

// A primary cut off from its replicas (min-replicas-to-write unmet) refuses the function before
// it runs: unavailable, and nothing is claimed.
BOOST_AUTO_TEST_CASE(a_primary_without_its_replicas_refuses_and_claims_nothing) {
  test::temp_directory dir;
  test::redis_process cut_off(dir.path(), {.name = "cut-off"});
  BOOST_REQUIRE(cut_off.command({"FUNCTION", "LOAD", std::string(shared_state::attempts_library())})
                    .rfind("$17\r\ncallsign_attempts", 0) == 0);
  BOOST_REQUIRE(cut_off.command({"CONFIG", "SET", "min-replicas-to-write", "1"}) == "+OK\r\n");
  test::blocking_redis_client client(cut_off.port());
  shared_state::redis_code_attempts codes(client);
  storage::change_set changes;
  auto out = test::wait_for<storage::code_attempt_result>(
      [&](auto done) { codes.settle(attempt_at(t0, 100), changes, done); });
  BOOST_REQUIRE(!out);
  BOOST_TEST(static_cast<int>(out.error().kind) == static_cast<int>(error_kind::unavailable));
  BOOST_TEST(cut_off.command({"EXISTS", "cs:{u:alice}:mark:phone_token"}) == ":0\r\n");
  BOOST_TEST(cut_off.stop() == 0);
}

BOOST_AUTO_TEST_CASE(a_server_without_the_library_is_unavailable) {
  test::redis_backend b;
  BOOST_REQUIRE(b.server.command({"FUNCTION", "DELETE", "callsign_attempts"}) == "+OK\r\n");
  auto out = b.try_settle(attempt_at(t0, 100));
  BOOST_REQUIRE(!out);
  BOOST_TEST(static_cast<int>(out.error().kind) == static_cast<int>(error_kind::unavailable));
}

BOOST_AUTO_TEST_CASE(unexpected_replies_are_internal_errors) {
  test::redis_backend b;
  const std::vector<std::vector<redis::reply>> shapes = {
      {redis::reply{redis::reply::kind::integer, 1, {}, {}}},  // not an array
      {redis::reply{redis::reply::kind::array, 0, {}, {redis::reply{redis::reply::kind::integer, 7, {}, {}},
                                                       redis::reply{redis::reply::kind::integer, 0, {}, {}}}}},
      {redis::reply{redis::reply::kind::array, 0, {}, {redis::reply{redis::reply::kind::integer, 0, {}, {}},
                                                       redis::reply{redis::reply::kind::integer, 0, {}, {}}}}},
      {},  // no reply at all
  };
  for (const auto& shape : shapes) {
    b.client.fail_next(shape);
    auto out = b.try_settle(attempt_at(t0, 100));
    BOOST_REQUIRE(!out);
    BOOST_TEST(static_cast<int>(out.error().kind) == static_cast<int>(error_kind::internal));
  }
  b.client.fail_next({redis::reply{redis::reply::kind::array, 0, {}, {}}});
  auto recorded = b.try_record(test::attempts_contract::failure_at(t0));
  BOOST_REQUIRE(!recorded);
  BOOST_TEST(static_cast<int>(recorded.error().kind) == static_cast<int>(error_kind::internal));
}

BOOST_AUTO_TEST_CASE(a_corrupt_counter_is_internal_and_changes_nothing) {
  test::redis_backend b;
  BOOST_REQUIRE(b.server.command({"SET", "cs:w:verify\x1fuser\x1f" "alice", "l,900000,x"}) == "+OK\r\n");
  auto out = b.try_settle(attempt_at(t0, 100));
  BOOST_REQUIRE(!out);
  BOOST_TEST(static_cast<int>(out.error().kind) == static_cast<int>(error_kind::internal));
  BOOST_TEST(b.server.command({"EXISTS", "cs:{u:alice}:mark:phone_token"}) == ":0\r\n");
}

// A counter stored by the version 1 library (times as decimal text) still counts, and the next
// add stores it packed ("l2,<window>,<cap>," + 8 bytes per time; docs/shared-state-redis.md).
BOOST_AUTO_TEST_CASE(a_version_1_counter_still_counts_and_is_stored_packed) {
  test::redis_backend b;
  const std::string key = "cs:w:verify\x1fuser\x1f" "alice";
  BOOST_REQUIRE(b.server.command({"SET", key, "l,900000,5," + std::to_string(t0 - 4000) + ",1000,1000,1000"}) ==
                "+OK\r\n");
  auto counted = b.settle(attempt_at(t0, std::nullopt));
  BOOST_TEST(!counted.throttled);
  BOOST_TEST(b.server.command({"STRLEN", key}) == ":52\r\n");  // 12 header bytes, 5 times
  BOOST_TEST(b.server.command({"GETRANGE", key, "0", "11"}) == "$12\r\nl2,900000,5,\r\n");
  auto refused = b.settle(attempt_at(t0 + 1, std::nullopt));
  BOOST_TEST(refused.throttled);  // the four old events and the new one
  BOOST_TEST(refused.retry_after_seconds == 896);  // the oldest, t0 - 4000, leaves at t0 + 896000
}

// An event counts while now - t < window, to the millisecond, through adds and checks of the
// packed log: the add at t0 + 899,999 must keep the event of t0.
BOOST_AUTO_TEST_CASE(an_event_counts_until_its_window_has_passed_to_the_millisecond) {
  test::redis_backend b;
  BOOST_TEST(!b.settle(attempt_at(t0, std::nullopt, 2)).throttled);
  BOOST_TEST(!b.settle(attempt_at(t0 + 899'999, std::nullopt, 2)).throttled);
  auto refused = b.settle(attempt_at(t0 + 899'999, std::nullopt, 2));
  BOOST_TEST(refused.throttled);
  BOOST_TEST(refused.retry_after_seconds == 1);
  BOOST_TEST(!b.settle(attempt_at(t0 + 900'000, std::nullopt, 2)).throttled);  // t0 no longer counts
}

// A key named twice in one attempt adds twice, as in the embedded backend: the function reads
// each key once per call, so its second add must start from the first one's result.
BOOST_AUTO_TEST_CASE(a_counter_named_twice_adds_twice) {
  test::redis_backend b;
  for (std::int64_t at : {t0, t0 + 1}) {
    auto twice = attempt_at(at, std::nullopt, 4);
    twice.failures = {twice.failures[0], twice.failures[0]};
    BOOST_TEST(!b.settle(twice).throttled);
  }
  BOOST_TEST(b.settle(attempt_at(t0 + 2, std::nullopt, 4)).throttled);  // 4 events of limit 4
}

BOOST_AUTO_TEST_CASE(a_packed_counter_of_a_wrong_length_is_corrupt) {
  test::redis_backend b;
  BOOST_REQUIRE(b.server.command({"SET", "cs:w:verify\x1fuser\x1f" "alice", "l2,900000,5,1234567"}) == "+OK\r\n");
  auto out = b.try_settle(attempt_at(t0, 100));
  BOOST_REQUIRE(!out);
  BOOST_TEST(static_cast<int>(out.error().kind) == static_cast<int>(error_kind::internal));
  BOOST_TEST(b.server.command({"EXISTS", "cs:{u:alice}:mark:phone_token"}) == ":0\r\n");
}

BOOST_AUTO_TEST_CASE(each_attempt_is_one_round_trip) {
  test::redis_backend b;
  b.settle(attempt_at(t0, 100));
  b.settle(attempt_at(t0 + 1, std::nullopt));
  b.record(test::attempts_contract::failure_at(t0));
  BOOST_TEST(b.client.execs() == 3U);
  BOOST_TEST(b.counts.settle.load() == 2U);
  BOOST_TEST(b.counts.login_record.load() == 1U);
}

// The race on one Redis: 20 threads claim one step, 200 times; exactly one accepted.
using both_clients = boost::mpl::list<test::redis_backend, test::production_redis_backend>;

BOOST_AUTO_TEST_CASE_TEMPLATE(twenty_threads_racing_one_step_accept_it_once, B, both_clients) {
  B b;
  for (std::uint64_t step = 5000; step < 5200; ++step) {
    std::atomic<int> accepted{0};
    std::atomic<int> replayed{0};
    std::atomic<int> failed{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 20; ++t) {
      threads.emplace_back([&, step] {
        auto attempt = attempt_at(t0, step, 1'000'000);
        attempt.failures.resize(1);  // the user's count only: 3,800 replays stay far below its limit
        auto out = b.settle_racing(attempt);
        if (!out || out->throttled) {
          failed.fetch_add(1);
          return;
        }
        (out->accepted ? accepted : replayed).fetch_add(1);
      });
    }
    for (auto& thread : threads) thread.join();
    BOOST_TEST_REQUIRE(failed.load() == 0);
    BOOST_TEST_REQUIRE(accepted.load() == 1);
    BOOST_TEST_REQUIRE(replayed.load() == 19);
  }
}

// The Lua port of rate_window decides exactly like the C++ one: random failures at random times,
// under limits that a reload changes (window, limit, and across max_exact_limit), settled on
// Redis and on the embedded composition over the in-memory stores; every answer must agree.
// Times step in whole units of `tick_ms` (0 to 4 of them), so events fall exactly on window
// edges and share milliseconds. These times are the test's own, while Redis expires keys (PEXPIRE,
// only ever garbage collection: a window is decided from the times stored in the value) on its
// real clock: a machine stalled for longer than a 7 ms window between two attempts dropped a key
// the arithmetic still counted. So each counter key is made persistent after every attempt.
namespace {
struct refusals {
  int exact = 0;
  int estimated = 0;
};

refusals settle_alike(const std::vector<storage::rate_limit>& limits, std::int64_t tick_ms, int attempts) {
  test::redis_backend b;
  test::memory_replay_marks marks;
  test::memory_rate_counters counters;
  storage::embedded_code_attempts reference(marks, counters);
  std::mt19937_64 random(18);
  std::int64_t now = t0;
  std::size_t limit_index = 0;
  refusals out;
  for (int i = 0; i < attempts; ++i) {
    if (random() % 97 == 0) limit_index = random() % limits.size();  // a reload
    now += tick_ms * static_cast<std::int64_t>(random() % 5);
    storage::code_attempt a;
    a.now_ms = now;
    a.failures = {{"k1", limits[limit_index]}, {"k2", limits[(limit_index + 1) % limits.size()]}};
    storage::change_set changes;
    auto expected = test::wait_for<storage::code_attempt_result>(
        [&](auto done) { reference.settle(a, changes, done); });
    auto got = b.settle(a);
    auto persisted = test::wait_for<std::vector<redis::reply>>([&](auto done) {
      b.client.exec({{"PERSIST", shared_state::counter_redis_key("k1")}, {"PERSIST", shared_state::counter_redis_key("k2")}},
                    std::move(done));
    });
    BOOST_REQUIRE(persisted);
    BOOST_REQUIRE(expected);
    BOOST_TEST_REQUIRE(got.throttled == expected->throttled, "attempt " << i);
    BOOST_TEST_REQUIRE(got.retry_after_seconds == expected->retry_after_seconds, "attempt " << i);
    if (got.throttled) ++(a.failures[0].limit.exact() ? out.exact : out.estimated);
  }
  return out;
}
}  // namespace

BOOST_AUTO_TEST_CASE(the_counters_decide_like_the_embedded_arithmetic) {
  // Seconds apart: the shipped limits (5 per 15 min, per minute) and large ones.
  auto slow = settle_alike({{5, 900'000}, {5, 60'000}, {3, 60'000}, {8, 120'000}, {1001, 60'000}, {40, 30'000}},
                           1000, 3000);
  BOOST_TEST(slow.exact > 100);  // the sequence exercised refusals, not only counting
  // Milliseconds apart, so the large limits (the two-window estimate) refuse as well.
  auto fast = settle_alike({{1001, 2'000}, {1500, 2'500}, {5, 10}, {3, 7}, {1000, 2'000}, {2000, 5'000}}, 1, 6000);
  BOOST_TEST(fast.exact > 50);
  BOOST_TEST(fast.estimated > 50);
}

BOOST_AUTO_TEST_SUITE_END()
