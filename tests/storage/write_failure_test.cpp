// A full disk under the group-commit writer (issue 16, defect 4): the WAL append fails with
// ENOSPC, injected by a RocksDB FileSystem (support/wal_probe_file_system.hpp). The change
// fails as storage_failed with RocksDB's text (for the log), the writer says writes are
// failing and reports it once, and once the disk has room again RocksDB resumes and so do we.
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "audit_test_support.hpp"
#include "storage/audit_journal.hpp"
#include "support/wal_probe_file_system.hpp"

using namespace callsign;
using storage::column_family;

namespace {

struct full_disk_fixture {
  test::temp_directory dir;
  crypto::key_ring ring = test::fixed_key_ring();
  storage::manual_clock clock{std::chrono::system_clock::time_point(std::chrono::seconds(1700000000))};
  std::shared_ptr<test::wal_probe_file_system> fs = std::make_shared<test::wal_probe_file_system>();
  std::unique_ptr<rocksdb::Env> env = test::wal_probe_file_system::make_env(fs);
  std::unique_ptr<storage::database> db;
  std::mutex mutex;
  std::vector<storage::write_health_report> received;  // guarded by mutex

  full_disk_fixture() {
    storage::database_options options{dir.path() / "db", true};
    options.env = env.get();
    auto opened = storage::database::open(options);
    BOOST_TEST_REQUIRE(opened.has_value(), (opened ? "" : opened.error().message));
    db = std::move(opened).value();
  }

  std::unique_ptr<storage::group_commit_writer> start_writer() {
    storage::group_commit_options options;
    options.report_health = [this](const storage::write_health_report& report) {
      const std::lock_guard lock(mutex);
      received.push_back(report);
    };
    auto writer = storage::group_commit_writer::start(*db, ring, clock, std::move(options));
    BOOST_TEST_REQUIRE(writer.has_value());
    return std::move(writer).value();
  }

  std::vector<storage::write_health_report> reported() {
    const std::lock_guard lock(mutex);
    return received;
  }
};

storage::change_set user_change(const std::string& name) {
  storage::change_set change = test::change_with(test::draft_for(name));
  change.put(column_family::users, name, "record");
  return change;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(write_failure)

BOOST_FIXTURE_TEST_CASE(a_full_disk_fails_writes_as_storage_failed_reports_once_and_recovers, full_disk_fixture) {
  auto writer = start_writer();
  BOOST_TEST_REQUIRE(writer->commit(user_change("before")).has_value());
  BOOST_TEST(!writer->stats().writes_failing);

  fs->fail_wal_appends(true);
  auto failed = writer->commit(user_change("during-1"));
  BOOST_TEST_REQUIRE(!failed.has_value());
  BOOST_TEST(fs->failed_appends() >= 1U);
  // The error value keeps RocksDB's text, path included: it is what the log needs. Keeping it
  // out of HTTP bodies is server/src/http/problem.cpp's job (tests/server/storage_failure_test.cpp).
  BOOST_TEST((failed.error().kind == error_kind::storage_failed));
  BOOST_TEST(failed.error().message.find("No space left on device") != std::string::npos, failed.error().message);
  BOOST_TEST(failed.error().message.find((dir.path() / "db").string()) != std::string::npos, failed.error().message);
  BOOST_TEST(writer->stats().writes_failing);

  // More failures within the minute: counted, not reported again.
  BOOST_TEST(!writer->commit(user_change("during-2")).has_value());
  BOOST_TEST(!writer->commit(user_change("during-3")).has_value());
  auto reports = reported();
  BOOST_TEST_REQUIRE(reports.size() == 1U);
  BOOST_TEST(reports[0].failing);
  BOOST_TEST(reports[0].failures == 1U);
  BOOST_TEST(reports[0].cause == failed.error().message);

  // A minute on (by the writer's clock), the next failure is reported with the ones held back.
  clock.advance(std::chrono::seconds(60));
  BOOST_TEST(!writer->commit(user_change("during-4")).has_value());
  reports = reported();
  BOOST_TEST_REQUIRE(reports.size() == 2U);
  BOOST_TEST(reports[1].failing);
  BOOST_TEST(reports[1].failures == 3U);

  // Space again: RocksDB's own recovery (its SstFileManager polls free space and resumes once
  // 64 MiB, its write buffer, are free on the test's real disk) lets a later write through.
  // Bounded: RocksDB retries every 5 s.
  fs->fail_wal_appends(false);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  result<storage::commit_receipt> after = make_error(error_kind::internal, "not tried");
  int attempt = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    after = writer->commit(user_change("after-" + std::to_string(attempt++)));
    if (after) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // poll interval, not a wait for "nothing"
  }
  BOOST_TEST_REQUIRE(after.has_value(), (after ? "" : after.error().message));
  BOOST_TEST(!writer->stats().writes_failing);
  reports = reported();
  BOOST_TEST_REQUIRE(reports.size() == 3U);
  BOOST_TEST(!reports[2].failing);
  BOOST_TEST(reports[2].cause.empty());

  // What failed is absent, what came before and after is there, and the chain is intact.
  BOOST_TEST(db->get(column_family::users, "before")->has_value());
  BOOST_TEST(!db->get(column_family::users, "during-1")->has_value());
  writer->stop();
  auto report = storage::audit_journal(*db).verify(ring);
  BOOST_TEST_REQUIRE(report.has_value());
  BOOST_TEST(report->intact, report->reason);
}

// EIO on the WAL, unlike ENOSPC, is an error RocksDB never recovers from in the open database
// (its severity is fatal: DB::Resume answers with it). Writes keep failing as storage_failed
// after the device works again; reopening the database, which a restart of callsignd does,
// recovers it with everything that was committed and nothing that failed (docs/operations.md,
// "Write failures").
BOOST_FIXTURE_TEST_CASE(an_io_error_fails_writes_until_the_database_is_reopened, full_disk_fixture) {
  auto writer = start_writer();
  BOOST_TEST_REQUIRE(writer->commit(user_change("before")).has_value());
  fs->fail_wal_appends_with_io_error(true);
  auto failed = writer->commit(user_change("during"));
  BOOST_TEST_REQUIRE(!failed.has_value());
  BOOST_TEST((failed.error().kind == error_kind::storage_failed));
  BOOST_TEST(failed.error().message.find("Input/output error") != std::string::npos, failed.error().message);
  BOOST_TEST(writer->stats().writes_failing);

  fs->fail_wal_appends_with_io_error(false);
  std::this_thread::sleep_for(std::chrono::seconds(1));
  auto still = writer->commit(user_change("after-the-device-works"));
  BOOST_TEST_REQUIRE(!still.has_value());
  BOOST_TEST(still.error().message.find("restart callsignd once the device works") != std::string::npos,
             still.error().message);
  BOOST_TEST(writer->stats().writes_failing);
  writer->stop();
  writer.reset();
  db.reset();

  storage::database_options options{dir.path() / "db", true};
  options.env = env.get();
  auto reopened = storage::database::open(options);
  BOOST_TEST_REQUIRE(reopened.has_value(), (reopened ? "" : reopened.error().message));
  db = std::move(reopened).value();
  writer = start_writer();
  BOOST_TEST_REQUIRE(writer->commit(user_change("after-reopen")).has_value());
  BOOST_TEST(db->get(column_family::users, "before")->has_value());
  BOOST_TEST(!db->get(column_family::users, "during")->has_value());
  BOOST_TEST(db->get(column_family::users, "after-reopen")->has_value());
  writer->stop();
  auto report = storage::audit_journal(*db).verify(ring);
  BOOST_TEST_REQUIRE(report.has_value());
  BOOST_TEST(report->intact, report->reason);
}

BOOST_AUTO_TEST_SUITE_END()
