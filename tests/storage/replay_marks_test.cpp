#include "storage/replay_marks.hpp"

#include <atomic>
#include <boost/test/unit_test.hpp>
#include <cstdint>
#include <latch>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "storage/database.hpp"
#include "storage/embedded_replay_marks.hpp"
#include "storage/shared_state_format.hpp"
#include "support/temp_directory.hpp"

using namespace callsign;
using storage::column_family;

namespace {

std::unique_ptr<storage::database> open_db(const test::temp_directory& dir) {
  auto db = storage::database::open({dir.path() / "db", true});
  BOOST_REQUIRE(db);
  return std::move(*db);
}

// Persists a change_set's ops in one batch, as the group-commit writer does.
void apply(storage::database& db, const storage::change_set& changes) {
  BOOST_REQUIRE(db.write(changes.ops));
}

bool claimed(storage::replay_marks& marks, std::string_view user, std::string_view method, std::uint64_t step,
             storage::change_set& changes) {
  auto r = marks.claim(user, method, step, changes);
  BOOST_REQUIRE(r);
  return *r;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(replay_mark_format_suite)

BOOST_AUTO_TEST_CASE(round_trips_and_refuses_corrupt_values) {
  const auto bytes = storage::encode_replay_mark(0x0102030405060708ULL);
  BOOST_TEST(bytes == std::string("\x01\x01\x02\x03\x04\x05\x06\x07\x08", 9));
  auto back = storage::decode_replay_mark(bytes);
  BOOST_REQUIRE(back);
  BOOST_TEST(*back == 0x0102030405060708ULL);
  for (const std::string& bad :
       {std::string(), bytes.substr(0, 8), bytes + "x", std::string("\x02", 1) + bytes.substr(1)}) {
    auto decoded = storage::decode_replay_mark(bad);
    BOOST_REQUIRE(!decoded);
    BOOST_TEST((decoded.error().kind == error_kind::internal));
  }
  // Keys keep users apart whatever bytes their ids hold.
  BOOST_TEST(storage::replay_mark_record_key("a/b", "c") != storage::replay_mark_record_key("a", "b/c"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(embedded_replay_marks_suite)

BOOST_AUTO_TEST_CASE(only_later_steps_are_accepted) {
  test::temp_directory dir;
  auto db = open_db(dir);
  storage::embedded_replay_marks marks(*db);

  auto none = marks.last_step("u1", "phone_token");
  BOOST_REQUIRE(none);
  BOOST_TEST(!none->has_value());

  storage::change_set changes;
  BOOST_TEST(claimed(marks, "u1", "phone_token", 100, changes));
  BOOST_REQUIRE(changes.ops.size() == 1U);
  BOOST_TEST((changes.ops[0].op == storage::write_op::kind::merge));
  BOOST_TEST((changes.ops[0].family == column_family::replay_marks));
  BOOST_TEST(changes.ops[0].key == storage::replay_mark_record_key("u1", "phone_token"));
  BOOST_TEST(changes.ops[0].value == storage::encode_replay_mark(100));

  storage::change_set refused;
  BOOST_TEST(!claimed(marks, "u1", "phone_token", 100, refused));  // same step
  BOOST_TEST(!claimed(marks, "u1", "phone_token", 99, refused));   // earlier step
  BOOST_TEST(!claimed(marks, "u1", "phone_token", 0, refused));
  BOOST_TEST(refused.ops.empty());

  BOOST_TEST(claimed(marks, "u1", "phone_token", 102, changes));  // later step
  BOOST_TEST(!claimed(marks, "u1", "phone_token", 101, changes));
  auto last = marks.last_step("u1", "phone_token");
  BOOST_REQUIRE(last);
  BOOST_TEST(**last == 102U);

  // Methods and users are independent.
  BOOST_TEST(claimed(marks, "u1", "authenticator", 50, changes));
  BOOST_TEST(claimed(marks, "u2", "phone_token", 100, changes));
  // Step 0 is a real step when nothing was accepted before.
  BOOST_TEST(claimed(marks, "u3", "phone_token", 0, changes));
  BOOST_TEST(!claimed(marks, "u3", "phone_token", 0, changes));
}

BOOST_AUTO_TEST_CASE(twenty_racing_claims_of_one_step_give_one_winner) {
  test::temp_directory dir;
  auto db = open_db(dir);
  storage::embedded_replay_marks marks(*db);
  constexpr int racers = 20;
  constexpr int rounds = 50;
  for (int round = 0; round < rounds; ++round) {
    // Odd rounds race on a cold key (every racer may load from RocksDB), even rounds on a warm one.
    const std::string user = "user-" + std::to_string(round / 2);
    const auto step = static_cast<std::uint64_t>(1000 + round);
    std::latch go(racers);
    std::atomic<int> winners{0};
    std::atomic<int> errors{0};
    std::vector<storage::change_set> changes(racers);
    std::vector<std::thread> threads;
    for (int t = 0; t < racers; ++t) {
      threads.emplace_back([&, t] {
        go.arrive_and_wait();
        auto r = marks.claim(user, "phone_token", step, changes[static_cast<std::size_t>(t)]);
        if (!r) {
          ++errors;
        } else if (*r) {
          ++winners;
        }
      });
    }
    for (auto& th : threads) {
      th.join();
    }
    BOOST_TEST(errors.load() == 0);
    BOOST_TEST(winners.load() == 1);
    std::size_t ops = 0;
    for (const auto& c : changes) {
      ops += c.ops.size();
    }
    BOOST_TEST(ops == 1U);  // only the winner persists anything
  }
}

BOOST_AUTO_TEST_CASE(racing_claims_of_different_steps_keep_the_highest) {
  test::temp_directory dir;
  auto db = open_db(dir);
  storage::embedded_replay_marks marks(*db);
  constexpr int racers = 20;
  std::latch go(racers);
  std::vector<std::thread> threads;
  std::vector<storage::change_set> changes(racers);
  for (int t = 0; t < racers; ++t) {
    threads.emplace_back([&, t] {
      go.arrive_and_wait();
      (void)marks.claim("u", "authenticator", static_cast<std::uint64_t>(t + 1), changes[static_cast<std::size_t>(t)]);
    });
  }
  for (auto& th : threads) {
    th.join();
  }
  auto last = marks.last_step("u", "authenticator");
  BOOST_REQUIRE(last);
  BOOST_TEST(**last == 20U);
  // Accepted steps were strictly increasing in claim order, so the one with step 20 won.
  BOOST_TEST(changes[19].ops.size() == 1U);
}

BOOST_AUTO_TEST_CASE(marks_survive_a_restart_and_load_lazily) {
  test::temp_directory dir;
  {
    auto db = open_db(dir);
    storage::embedded_replay_marks marks(*db);
    storage::change_set changes;
    BOOST_TEST(claimed(marks, "u1", "phone_token", 500, changes));
    BOOST_TEST(claimed(marks, "u1", "authenticator", 77, changes));
    apply(*db, changes);
  }
  auto db = open_db(dir);
  storage::embedded_replay_marks marks(*db);
  BOOST_TEST(marks.cached_marks() == 0U);
  auto last = marks.last_step("u1", "phone_token");
  BOOST_REQUIRE(last);
  BOOST_TEST(**last == 500U);
  BOOST_TEST(marks.cached_marks() == 1U);

  storage::change_set changes;
  BOOST_TEST(!claimed(marks, "u1", "authenticator", 77, changes));  // first touch is a claim
  BOOST_TEST(!claimed(marks, "u1", "phone_token", 500, changes));
  BOOST_TEST(!claimed(marks, "u1", "phone_token", 499, changes));
  BOOST_TEST(changes.ops.empty());
  BOOST_TEST(claimed(marks, "u1", "phone_token", 501, changes));
}

BOOST_AUTO_TEST_CASE(a_claim_persists_only_a_merge_so_commit_order_never_matters) {
  // Marks are never lowered or deleted (there is no forget): every op a claim appends is a
  // merge that keeps the highest step (state_merge_test.cpp), whatever order commits land in.
  test::temp_directory dir;
  auto db = open_db(dir);
  storage::embedded_replay_marks marks(*db);
  storage::change_set first;
  storage::change_set second;
  BOOST_TEST(claimed(marks, "u1", "authenticator", 900, first));
  BOOST_TEST(claimed(marks, "u1", "authenticator", 901, second));
  for (const auto* changes : {&first, &second}) {
    BOOST_REQUIRE(changes->ops.size() == 1U);
    const auto& op = changes->ops.front();
    BOOST_TEST((op.op == storage::write_op::kind::merge));
    BOOST_TEST((op.family == column_family::replay_marks));
    BOOST_TEST(op.key == storage::replay_mark_record_key("u1", "authenticator"));
  }
  // Committed in the other order, disk still ends at the higher step.
  apply(*db, second);
  apply(*db, first);
  storage::embedded_replay_marks reloaded(*db);
  auto last = reloaded.last_step("u1", "authenticator");
  BOOST_REQUIRE(last);
  BOOST_TEST(last->value_or(0) == 901U);
}

BOOST_AUTO_TEST_CASE(a_corrupt_mark_is_an_error_and_claims_nothing) {
  test::temp_directory dir;
  auto db = open_db(dir);
  BOOST_REQUIRE(db->put(column_family::replay_marks, storage::replay_mark_record_key("u1", "phone_token"), "\x01\x02"));
  storage::embedded_replay_marks marks(*db);
  storage::change_set changes;
  auto r = marks.claim("u1", "phone_token", 1'000'000, changes);
  BOOST_REQUIRE(!r);
  BOOST_TEST((r.error().kind == error_kind::internal));
  BOOST_TEST(r.error().message.find("u1") == std::string::npos);
  BOOST_TEST(changes.ops.empty());
  BOOST_TEST(!marks.last_step("u1", "phone_token"));
  // Still refused on the next attempt: a damaged mark never reads as "nothing accepted".
  BOOST_TEST(!marks.claim("u1", "phone_token", 1'000'001, changes));
}

BOOST_AUTO_TEST_CASE(bad_arguments_are_refused) {
  test::temp_directory dir;
  auto db = open_db(dir);
  storage::embedded_replay_marks marks(*db);
  storage::change_set changes;
  auto empty_user = marks.claim("", "phone_token", 1, changes);
  BOOST_REQUIRE(!empty_user);
  BOOST_TEST((empty_user.error().kind == error_kind::invalid_input));
  BOOST_TEST(!marks.claim("u", "", 1, changes));
  BOOST_TEST(!marks.claim(std::string(storage::max_replay_mark_part + 1, 'u'), "m", 1, changes));
  BOOST_TEST(!marks.last_step("", "m"));
  BOOST_TEST(changes.ops.empty());
}

BOOST_AUTO_TEST_SUITE_END()
