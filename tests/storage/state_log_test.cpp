// Replay marks and counters reach disk through column_family::state_log: the record format,
// the fold's per-key combining (checked against writing every op in order), the replay on
// open, and the writer's log-then-fold path, including a crash image taken before the fold.
#include "storage/state_log.hpp"

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "audit_test_support.hpp"
#include "storage/embedded_rate_counters.hpp"
#include "storage/embedded_replay_marks.hpp"
#include "storage/shared_state_format.hpp"

using namespace callsign;
using storage::column_family;
using storage::write_op;

namespace {

std::vector<std::string> keys_of(const storage::database& db, column_family cf) {
  std::vector<std::string> keys;
  auto scanned = db.scan(cf, storage::database::scan_direction::forward, {}, [&](std::string_view key, std::string_view) {
    keys.emplace_back(key);
    return true;
  });
  BOOST_REQUIRE(scanned);
  return keys;
}

std::optional<std::string> value_of(const storage::database& db, column_family cf, const std::string& key) {
  auto got = db.get(cf, key);
  BOOST_REQUIRE(got);
  return *got;
}

storage::sliding_window_counter window(std::int64_t start, std::int64_t previous, std::int64_t current) {
  storage::sliding_window_counter c;
  c.window_ms = 60'000;
  c.window_start_ms = start;
  c.previous = previous;
  c.current = current;
  return c;
}

// A random op on one of a few keys of the two logged families, shaped as the backends write.
write_op random_op(std::mt19937& rng) {
  std::uniform_int_distribution<int> pick(0, 99);
  const int key = pick(rng) % 3;
  const int kind = pick(rng);
  if (pick(rng) < 50) {
    const std::string k = storage::replay_mark_record_key("user-" + std::to_string(key), "phone_token");
    if (kind < 15) return {write_op::kind::remove, column_family::replay_marks, k, {}};
    return {write_op::kind::merge, column_family::replay_marks, k,
            storage::encode_replay_mark(static_cast<std::uint64_t>(pick(rng)))};
  }
  const std::string k = storage::sliding_window_record_key("verify/ip/" + std::to_string(key));
  const auto value = storage::encode_sliding_window(window(60'000 * (pick(rng) % 4), pick(rng) % 7, pick(rng) % 9));
  if (kind < 10) return {write_op::kind::remove, column_family::counters, k, {}};
  if (kind < 20) return {write_op::kind::put, column_family::counters, k, value};
  return {write_op::kind::merge, column_family::counters, k, value};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(state_log_suite)

BOOST_AUTO_TEST_CASE(record_round_trips_and_damage_is_refused) {
  const std::vector<write_op> ops = {
      {write_op::kind::merge, column_family::replay_marks, "u\0m", storage::encode_replay_mark(7)},
      {write_op::kind::remove, column_family::counters, "k", {}},
      {write_op::kind::put, column_family::counters, std::string(300, 'x'), std::string(70000, 'y')},
  };
  const auto bytes = storage::encode_state_log_record(ops);
  auto decoded = storage::decode_state_log_record(bytes);
  BOOST_REQUIRE(decoded);
  BOOST_REQUIRE(decoded->size() == ops.size());
  for (std::size_t i = 0; i < ops.size(); ++i) {
    BOOST_TEST(((*decoded)[i].op == ops[i].op));
    BOOST_TEST(((*decoded)[i].family == ops[i].family));
    BOOST_TEST((*decoded)[i].key == ops[i].key);
    BOOST_TEST((*decoded)[i].value == ops[i].value);
  }
  BOOST_TEST(storage::decode_state_log_record("")->empty());

  for (std::size_t cut = 1; cut < 12; ++cut) {
    BOOST_TEST(!storage::decode_state_log_record(std::string_view(bytes).substr(0, cut)));
  }
  std::string wrong_family = bytes;
  wrong_family[0] = static_cast<char>(column_family::users);
  BOOST_TEST(!storage::decode_state_log_record(wrong_family));
  std::string out_of_range = bytes;
  out_of_range[0] = static_cast<char>(200);
  BOOST_TEST(!storage::decode_state_log_record(out_of_range));
  std::string wrong_kind = bytes;
  wrong_kind[1] = static_cast<char>(9);
  BOOST_TEST(!storage::decode_state_log_record(wrong_kind));
}

// Writing the fold's combined ops gives exactly what writing every op in order gives.
BOOST_AUTO_TEST_CASE(fold_matches_writing_every_op_in_order) {
  test::temp_directory dir;
  std::mt19937 rng(20261126);
  for (int round = 0; round < 40; ++round) {
    auto direct = storage::database::open({dir.path() / ("direct-" + std::to_string(round)), true});
    auto folded = storage::database::open({dir.path() / ("folded-" + std::to_string(round)), true});
    BOOST_REQUIRE(direct);
    BOOST_REQUIRE(folded);
    // Some state on disk before, so merges meet stored values too.
    std::vector<write_op> base;
    for (int i = 0; i < 4; ++i) base.push_back(random_op(rng));
    BOOST_REQUIRE((*direct)->write(base));
    BOOST_REQUIRE((*folded)->write(base));

    storage::state_fold fold;
    const int count = 1 + static_cast<int>(rng() % 30);
    for (int i = 0; i < count; ++i) {
      const write_op op = random_op(rng);
      BOOST_REQUIRE((*direct)->write(std::vector<write_op>{op}));
      fold.add(op);
    }
    const auto combined = fold.take();
    BOOST_TEST(fold.empty());
    BOOST_TEST(combined.size() <= 6U);  // at most one op per key
    BOOST_TEST(std::is_sorted(combined.begin(), combined.end(), [](const write_op& a, const write_op& b) {
      return a.family != b.family ? a.family < b.family : a.key < b.key;
    }));
    BOOST_REQUIRE((*folded)->write_unsynced(combined));
    for (auto cf : {column_family::replay_marks, column_family::counters}) {
      const auto keys = keys_of(**direct, cf);
      BOOST_TEST(keys == keys_of(**folded, cf));
      for (const auto& key : keys) {
        BOOST_TEST((value_of(**direct, cf, key) == value_of(**folded, cf, key)));
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(open_replays_what_the_log_holds) {
  test::temp_directory dir;
  const auto mark = storage::replay_mark_record_key("alice", "phone_token");
  {
    auto db = storage::database::open({dir.path() / "db", true});
    BOOST_REQUIRE(db);
    BOOST_REQUIRE((*db)->write(std::vector<write_op>{
        {write_op::kind::merge, column_family::replay_marks, mark, storage::encode_replay_mark(9)}}));
    // Two records as the writer leaves them when it stops before folding: a lower step later
    // must not win, and a counter arrives.
    const std::vector<write_op> first = {
        {write_op::kind::merge, column_family::replay_marks, mark, storage::encode_replay_mark(12)}};
    const std::vector<write_op> second = {
        {write_op::kind::merge, column_family::replay_marks, mark, storage::encode_replay_mark(10)},
        {write_op::kind::merge, column_family::counters, storage::sliding_window_record_key("verify/agent/a"),
         storage::encode_sliding_window(window(120'000, 1, 2))}};
    BOOST_REQUIRE((*db)->write(std::vector<write_op>{
        {write_op::kind::put, column_family::state_log, storage::state_log_key(1),
         storage::encode_state_log_record(first)},
        {write_op::kind::put, column_family::state_log, storage::state_log_key(2),
         storage::encode_state_log_record(second)}}));
  }
  auto db = storage::database::open({dir.path() / "db", true});
  BOOST_REQUIRE(db);
  BOOST_TEST(keys_of(**db, column_family::state_log).empty());
  auto stored = value_of(**db, column_family::replay_marks, mark);
  BOOST_REQUIRE(stored.has_value());
  BOOST_TEST(*storage::decode_replay_mark(*stored) == 12U);
  auto counter = value_of(**db, column_family::counters, storage::sliding_window_record_key("verify/agent/a"));
  BOOST_REQUIRE(counter.has_value());
  BOOST_TEST(storage::decode_sliding_window(*counter)->current == 2);
}

BOOST_AUTO_TEST_CASE(open_refuses_a_damaged_log_record) {
  test::temp_directory dir;
  {
    auto db = storage::database::open({dir.path() / "db", true});
    BOOST_REQUIRE(db);
    BOOST_REQUIRE((*db)->put(column_family::state_log, storage::state_log_key(1), std::string("\x05\x02\x00", 3)));
  }
  auto db = storage::database::open({dir.path() / "db", true});
  BOOST_REQUIRE(!db);
  BOOST_TEST(db.error().message.find("state log record is damaged") != std::string::npos);
}

// The writer logs marks and counters with the group and folds them later. A checkpoint of the
// database taken before the fold is what a crash at that moment leaves on disk: opening it must
// give the same state.
BOOST_FIXTURE_TEST_CASE(writer_logs_then_folds_and_a_crash_image_loses_nothing, test::journal_fixture) {
  storage::group_commit_options options;
  options.fold_interval_ms = 3'600'000;  // no fold by time during the test
  auto writer = start_writer(options);
  storage::embedded_replay_marks marks(*db);
  storage::embedded_rate_counters counters(*db);
  const std::int64_t now_ms = 1'700'000'000'000;
  for (int i = 0; i < 20; ++i) {
    storage::change_set change = test::change_with(test::draft_for("user-" + std::to_string(i % 5)));
    BOOST_REQUIRE(marks.claim("user-" + std::to_string(i % 5), "phone_token", 100 + static_cast<std::uint64_t>(i), change));
    BOOST_REQUIRE(counters.add("verify/agent/a", 1, now_ms + i, {100, 60'000}, change));
    BOOST_REQUIRE(writer->commit(std::move(change)));
  }
  // Nothing folded yet: the keyed families are empty, the log holds the groups.
  BOOST_TEST(keys_of(*db, column_family::replay_marks).empty());
  BOOST_TEST(keys_of(*db, column_family::counters).empty());
  BOOST_TEST(!keys_of(*db, column_family::state_log).empty());
  BOOST_TEST(writer->stats().state_folds == 0U);

  const auto image = dir.path() / "crash-image";
  BOOST_REQUIRE(db->create_checkpoint(image));
  {
    auto reopened = storage::database::open({image, false});
    BOOST_REQUIRE(reopened);
    BOOST_TEST(keys_of(**reopened, column_family::state_log).empty());
    storage::embedded_replay_marks replayed(**reopened);
    for (int u = 0; u < 5; ++u) {
      auto last = replayed.last_step("user-" + std::to_string(u), "phone_token");
      BOOST_REQUIRE(last);
      BOOST_TEST(last->value_or(0) == 115U + static_cast<std::uint64_t>(u));
    }
    storage::embedded_rate_counters counted(**reopened);
    auto estimate = counted.estimate("verify/agent/a", now_ms + 20, {100, 60'000});
    BOOST_REQUIRE(estimate);
    BOOST_TEST(estimate->value == 20.0);
  }

  writer->stop();  // folds what is pending, synced
  BOOST_TEST(writer->stats().state_folds == 1U);
  BOOST_TEST(keys_of(*db, column_family::state_log).empty());
  BOOST_TEST(keys_of(*db, column_family::replay_marks).size() == 5U);
  BOOST_TEST(keys_of(*db, column_family::counters).size() == 1U);
}

BOOST_FIXTURE_TEST_CASE(writer_folds_when_enough_keys_are_pending, test::journal_fixture) {
  storage::group_commit_options options;
  options.fold_interval_ms = 3'600'000;
  options.fold_max_keys = 3;
  auto writer = start_writer(options);
  storage::embedded_replay_marks marks(*db);
  for (int i = 0; i < 3; ++i) {
    storage::change_set change = test::change_with(test::draft_for("user-" + std::to_string(i)));
    BOOST_REQUIRE(marks.claim("user-" + std::to_string(i), "phone_token", 5, change));
    BOOST_REQUIRE(writer->commit(std::move(change)));
  }
  // The third key makes the fold due; the folder thread runs it soon after that group.
  for (int wait = 0; wait < 3000 && writer->stats().state_folds == 0; ++wait) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  BOOST_TEST(writer->stats().state_folds == 1U);
  BOOST_TEST(keys_of(*db, column_family::replay_marks).size() == 3U);
  BOOST_TEST(keys_of(*db, column_family::state_log).empty());
}

BOOST_FIXTURE_TEST_CASE(a_change_may_not_write_the_state_log, test::journal_fixture) {
  auto writer = start_writer();
  storage::change_set change = test::change_with(test::draft_for("alice"));
  change.put(column_family::state_log, storage::state_log_key(99), "x");
  auto receipt = writer->commit(std::move(change));
  BOOST_REQUIRE(!receipt);
  BOOST_TEST((receipt.error().kind == error_kind::invalid_input));
  BOOST_TEST(keys_of(*db, column_family::state_log).empty());
}

BOOST_AUTO_TEST_SUITE_END()
