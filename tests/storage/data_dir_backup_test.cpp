// Backups of a live database: taken while a writer commits, restored elsewhere, and checked
// for one point in time across column families, an intact audit chain and owner-only modes.
#include "storage/data_dir_backup.hpp"

#include <sys/stat.h>

#include <atomic>
#include <boost/test/unit_test.hpp>
#include <fstream>
#include <set>
#include <string>
#include <thread>

#include "audit_test_support.hpp"
#include "storage/audit_journal.hpp"
#include "storage/key_ring_file.hpp"

using namespace callsign;
namespace fs = std::filesystem;

namespace {

unsigned mode_of(const fs::path& path) {
  struct stat info {};
  BOOST_REQUIRE(::lstat(path.c_str(), &info) == 0);
  return info.st_mode & 0777U;
}

// Every directory under `root` (and root) is 0700 and every file 0600.
void require_owner_only(const fs::path& root) {
  BOOST_TEST(mode_of(root) == 0700U);
  std::size_t files = 0;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    if (entry.is_directory()) {
      BOOST_TEST(mode_of(entry.path()) == 0700U, entry.path());
    } else {
      ++files;
      BOOST_TEST(mode_of(entry.path()) == 0600U, entry.path());
    }
  }
  BOOST_TEST(files > 0U);
}

std::set<std::string> keys_of(const storage::database& db, storage::column_family cf) {
  std::set<std::string> keys;
  auto scanned =
      db.scan(cf, storage::database::scan_direction::forward, {}, [&](std::string_view key, std::string_view) {
        keys.emplace(key);
        return true;
      });
  BOOST_REQUIRE(scanned);
  return keys;
}

struct backup_fixture : test::journal_fixture {
  fs::path data_dir = dir.path();  // the journal fixture's database lives in <dir>/db
  fs::path dest = dir.path().parent_path() / (dir.path().filename().string() + "-backup");
  fs::path restored = dir.path().parent_path() / (dir.path().filename().string() + "-restored");

  backup_fixture() {
    BOOST_REQUIRE(storage::save_key_ring(data_dir / storage::key_ring_file_name, ring));
    std::ofstream(data_dir / "jwt-hs256.key") << "0123456789abcdef0123456789abcdef";
  }
  ~backup_fixture() {
    std::error_code ec;
    fs::remove_all(dest, ec);
    fs::remove_all(restored, ec);
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(data_dir_backup_suite)

BOOST_FIXTURE_TEST_CASE(a_backup_taken_during_writes_is_one_point_in_time, backup_fixture) {
  auto writer = start_writer(test::checkpoints(7, 0));
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> committed{0};
  // Each change writes a user key and its audit entry in one batch: a torn copy would hold
  // one without the other.
  std::thread load([&] {
    for (std::uint64_t i = 0; !stop.load(); ++i) {
      const std::string user = "user-" + std::to_string(i);
      storage::change_set change = test::change_with(test::draft_for(user));
      change.put(storage::column_family::users, user, "record");
      if (writer->commit(std::move(change))) committed.fetch_add(1);
    }
  });
  while (committed.load() < 50) std::this_thread::yield();
  auto report = storage::write_backup(*db, data_dir, dest, 1800000000);
  const std::uint64_t during = committed.load();
  while (committed.load() < during + 50) std::this_thread::yield();  // writes went on after it
  stop.store(true);
  load.join();
  writer->stop();
  BOOST_REQUIRE_MESSAGE(report, (report ? std::string() : report.error().message));
  BOOST_TEST(fs::exists(dest / storage::backup_marker_file_name));
  BOOST_TEST(fs::exists(dest / "master.key"));
  BOOST_TEST(fs::exists(dest / "jwt-hs256.key"));
  require_owner_only(dest);

  auto restore = storage::restore_backup(dest, restored);
  BOOST_REQUIRE_MESSAGE(restore, (restore ? std::string() : restore.error().message));
  BOOST_TEST(!fs::exists(restored / storage::backup_marker_file_name));
  require_owner_only(restored);
  auto copy = storage::database::open({restored / storage::database_dir_name, false});
  BOOST_REQUIRE_MESSAGE(copy, (copy ? std::string() : copy.error().message));
  auto ring_copy = storage::load_key_ring(restored / storage::key_ring_file_name);
  BOOST_REQUIRE(ring_copy);

  const storage::audit_journal journal(**copy);
  auto verified = journal.verify(*ring_copy);
  BOOST_REQUIRE(verified);
  BOOST_TEST_MESSAGE(verified->reason);
  BOOST_TEST(verified->intact);
  BOOST_TEST(verified->entries >= 50U);
  BOOST_TEST(verified->entries < committed.load());  // a point in the middle, not the end

  // Exactly the users whose audit entries made it: no batch is half in the copy.
  std::set<std::string> audited;
  auto entries = journal.after(0, 1'000'000);
  BOOST_REQUIRE(entries);
  for (const auto& entry : *entries) audited.insert(entry.subject);
  BOOST_TEST((keys_of(**copy, storage::column_family::users) == audited));
}

BOOST_FIXTURE_TEST_CASE(backup_and_restore_refuse_a_non_empty_target, backup_fixture) {
  fs::create_directories(dest);
  std::ofstream(dest / "something") << "x";
  auto report = storage::write_backup(*db, data_dir, dest, 1);
  BOOST_REQUIRE(!report);
  BOOST_TEST((report.error().kind == error_kind::conflict));
  fs::remove(dest / "something");

  BOOST_REQUIRE(storage::write_backup(*db, data_dir, dest, 1));  // an empty directory is fine
  fs::create_directories(restored);
  std::ofstream(restored / "old") << "x";
  auto restore = storage::restore_backup(dest, restored);
  BOOST_REQUIRE(!restore);
  BOOST_TEST((restore.error().kind == error_kind::conflict));
  BOOST_TEST(fs::exists(restored / "old"));
}

BOOST_FIXTURE_TEST_CASE(restore_refuses_a_directory_that_is_not_a_backup, backup_fixture) {
  auto restore = storage::restore_backup(data_dir, restored);  // a data dir, not a backup
  BOOST_REQUIRE(!restore);
  BOOST_TEST((restore.error().kind == error_kind::invalid_input));
  BOOST_TEST(!fs::exists(restored));
}

BOOST_AUTO_TEST_SUITE_END()
