// The state-log folder on its own thread, against a real RocksDB: it folds once enough distinct
// keys are pending (not writes), or once the oldest record is old enough; a failed fold keeps
// the log and is retried; stop() folds the rest, synced.
#include "storage/state_log_folder.hpp"

#include <atomic>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "storage/database.hpp"
#include "storage/shared_state_format.hpp"
#include "support/temp_directory.hpp"

using namespace callsign;
using storage::column_family;
using storage::write_op;

namespace {

struct folder_fixture {
  test::temp_directory dir;
  std::unique_ptr<storage::database> db;
  std::uint64_t next_record = 1;

  folder_fixture() {
    auto opened = storage::database::open({dir.path() / "db", true});
    BOOST_REQUIRE(opened);
    db = std::move(*opened);
  }

  // Logs a record as the group-commit writer does (synced, before the hand-over) and hands it
  // to the folder.
  void log(storage::state_log_folder& folder, std::vector<write_op> ops) {
    const std::uint64_t number = next_record++;
    BOOST_REQUIRE(db->put(column_family::state_log, storage::state_log_key(number),
                          storage::encode_state_log_record(ops)));
    folder.add(std::move(ops), number);
  }

  std::size_t count(column_family cf) const {
    std::size_t n = 0;
    auto scanned = db->scan(cf, storage::database::scan_direction::forward, {}, [&](std::string_view, std::string_view) {
      ++n;
      return true;
    });
    BOOST_REQUIRE(scanned);
    return n;
  }

  std::uint64_t mark(const std::string& user) const {
    auto got = db->get(column_family::replay_marks, storage::replay_mark_record_key(user, "phone_token"));
    BOOST_REQUIRE(got);
    BOOST_REQUIRE(got->has_value());
    auto step = storage::decode_replay_mark(**got);
    BOOST_REQUIRE(step);
    return *step;
  }
};

write_op claim(const std::string& user, std::uint64_t step) {
  return {write_op::kind::merge, column_family::replay_marks, storage::replay_mark_record_key(user, "phone_token"),
          storage::encode_replay_mark(step)};
}

template <class Done>
bool eventually(Done done) {
  for (int i = 0; i < 1000; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return done();
}

constexpr std::int64_t an_hour_ms = 3'600'000;

}  // namespace

BOOST_AUTO_TEST_SUITE(state_log_folder_suite)

BOOST_FIXTURE_TEST_CASE(folds_once_enough_distinct_keys_are_pending, folder_fixture) {
  storage::state_log_folder folder(*db, 1, {3, an_hour_ms, {}});
  // Four writes to two keys: fewer distinct keys than the limit, so nothing is folded.
  log(folder, {claim("u1", 5), claim("u2", 5)});
  log(folder, {claim("u1", 7), claim("u2", 6)});
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  BOOST_TEST(folder.folds() == 0U);
  BOOST_TEST(count(column_family::state_log) == 2U);
  BOOST_TEST(count(column_family::replay_marks) == 0U);
  log(folder, {claim("u3", 1)});  // a third key makes it due
  BOOST_REQUIRE(eventually([&] { return folder.folds() == 1U; }));
  BOOST_TEST(count(column_family::state_log) == 0U);
  BOOST_TEST(count(column_family::replay_marks) == 3U);
  BOOST_TEST(mark("u1") == 7U);
  BOOST_TEST(mark("u2") == 6U);
  BOOST_TEST(mark("u3") == 1U);
}

BOOST_FIXTURE_TEST_CASE(folds_once_the_oldest_record_is_old_enough, folder_fixture) {
  storage::state_log_folder folder(*db, 1, {1000, 20, {}});
  log(folder, {claim("u1", 9)});
  BOOST_REQUIRE(eventually([&] { return folder.folds() == 1U; }));
  BOOST_TEST(count(column_family::state_log) == 0U);
  BOOST_TEST(mark("u1") == 9U);
  // And again for a record added after that fold.
  log(folder, {claim("u1", 4), claim("u2", 3)});
  BOOST_REQUIRE(eventually([&] { return folder.folds() == 2U; }));
  BOOST_TEST(count(column_family::state_log) == 0U);
  BOOST_TEST(mark("u1") == 9U);  // merges keep the highest step
  BOOST_TEST(mark("u2") == 3U);
}

BOOST_FIXTURE_TEST_CASE(a_failed_fold_keeps_the_log_and_is_retried, folder_fixture) {
  std::atomic<int> attempts{0};
  storage::state_log_folder_options options{1000, 20, [&attempts]() -> result<void> {
                                              if (attempts.fetch_add(1) == 0) {
                                                return make_error(error_kind::unavailable, "injected");
                                              }
                                              return {};
                                            }};
  storage::state_log_folder folder(*db, 1, options);
  log(folder, {claim("u1", 11)});
  BOOST_REQUIRE(eventually([&] { return folder.folds_failed() == 1U; }));
  BOOST_TEST(count(column_family::state_log) == 1U);  // the failed fold changed nothing
  BOOST_TEST(count(column_family::replay_marks) == 0U);
  BOOST_REQUIRE(eventually([&] { return folder.folds() == 1U; }));
  BOOST_TEST(count(column_family::state_log) == 0U);
  BOOST_TEST(mark("u1") == 11U);
}

BOOST_FIXTURE_TEST_CASE(stop_folds_the_rest_and_later_records_stay_in_the_log, folder_fixture) {
  storage::state_log_folder folder(*db, 1, {1000, an_hour_ms, {}});
  log(folder, {claim("u1", 1)});
  log(folder, {claim("u2", 2)});
  folder.stop();
  BOOST_TEST(folder.folds() == 1U);
  BOOST_TEST(count(column_family::state_log) == 0U);
  BOOST_TEST(mark("u1") == 1U);
  BOOST_TEST(mark("u2") == 2U);
  folder.stop();  // idempotent
  // After stop nothing is folded any more: the record stays for database::open to apply.
  log(folder, {claim("u3", 3)});
  BOOST_TEST(count(column_family::state_log) == 1U);
  BOOST_TEST(folder.folds() == 1U);
}

BOOST_AUTO_TEST_SUITE_END()
