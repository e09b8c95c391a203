// Master key rotation against a real RocksDB: re-sealing, the audit entry, checkpoints signed
// with the old and the new version, and a crash between the key file and the re-seal batch.
#include "storage/key_rotation.hpp"

#include <sys/stat.h>

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <string>
#include <vector>

#include "audit_test_support.hpp"
#include "crypto/sealed_box.hpp"
#include "storage/audit_checkpoint.hpp"
#include "storage/audit_journal.hpp"
#include "storage/authenticator_store.hpp"
#include "storage/key_ring_file.hpp"

using namespace callsign;

namespace {

std::vector<std::uint8_t> bytes_of(std::string_view text) {
  return {text.begin(), text.end()};
}

struct rotation_fixture : test::journal_fixture {
  std::filesystem::path key_file = dir.path() / "master.key";

  rotation_fixture() {
    // A ring with one version and no creation time, as callsignd's first start writes it.
    auto first = crypto::key_ring::parse("1 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n");
    BOOST_REQUIRE(first);
    ring = std::move(first).value();
    BOOST_REQUIRE(storage::save_key_ring(key_file, ring));
  }

  // Stores an authenticator record for `user` sealed under the fixture's current ring.
  void enroll(const std::string& user, std::optional<std::string> active, std::optional<std::string> pending) {
    storage::authenticator_record record;
    if (active) record.active_sealed = *crypto::seal_with_ring(ring, bytes_of(*active), user);
    if (pending) record.pending_sealed = *crypto::seal_with_ring(ring, bytes_of(*pending), user);
    record.activated_at = 1700000000;
    storage::change_set change = test::change_with(test::draft_for(user, "ok"));
    storage::authenticator_store(*db).stage_put(user, record, change);
    auto writer = start_writer(test::checkpoints(1, 0));  // a checkpoint with every entry
    BOOST_REQUIRE(writer->commit(std::move(change)));
    writer->stop();
  }

  storage::authenticator_record record_of(const std::string& user) {
    auto found = storage::authenticator_store(*db).find(user);
    BOOST_REQUIRE(found);
    return *found;
  }

  std::string open_blob(const crypto::key_ring& with, const std::string& blob, const std::string& user) {
    auto opened = crypto::open_with_ring(with, blob, user);
    BOOST_REQUIRE_MESSAGE(opened, (opened ? std::string() : opened.error().message));
    return {opened->begin(), opened->end()};
  }
};

std::uint32_t version_of(const std::optional<std::string>& blob) {
  BOOST_REQUIRE(blob);
  auto version = crypto::sealed_key_version(*blob);
  BOOST_REQUIRE(version);
  return *version;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(key_rotation_suite)

BOOST_FIXTURE_TEST_CASE(rotation_reseals_every_secret_under_the_new_version, rotation_fixture) {
  enroll("alice", std::string("alice-active"), std::nullopt);
  enroll("bob", std::string("bob-active"), std::string("bob-pending"));
  enroll("carol", std::nullopt, std::string("carol-pending"));
  clock.set(std::chrono::system_clock::time_point(std::chrono::seconds(1800000000)));

  auto report = storage::rotate_master_key(*db, key_file, clock, "cli");
  BOOST_REQUIRE_MESSAGE(report, (report ? std::string() : report.error().message));
  BOOST_TEST(report->from_version == 1U);
  BOOST_TEST(report->to_version == 2U);
  BOOST_TEST(report->resealed.records == 3U);
  BOOST_TEST(report->resealed.active == 2U);
  BOOST_TEST(report->resealed.pending == 2U);

  auto loaded = storage::load_key_ring(key_file);
  BOOST_REQUIRE(loaded);
  BOOST_TEST((loaded->versions() == std::vector<std::uint32_t>{1, 2}));
  BOOST_TEST(loaded->current().created_at == 1800000000);
  BOOST_TEST((loaded->find(1)->bytes == ring.current().bytes));  // the old key is kept

  const auto bob = record_of("bob");
  BOOST_TEST(version_of(bob.active_sealed) == 2U);
  BOOST_TEST(version_of(bob.pending_sealed) == 2U);
  BOOST_TEST(open_blob(*loaded, *bob.active_sealed, "bob") == "bob-active");
  BOOST_TEST(open_blob(*loaded, *bob.pending_sealed, "bob") == "bob-pending");
  BOOST_TEST(bob.activated_at == 1700000000);
  BOOST_TEST(open_blob(*loaded, *record_of("alice").active_sealed, "alice") == "alice-active");
  BOOST_TEST(!record_of("carol").active_sealed);
  BOOST_TEST(open_blob(*loaded, *record_of("carol").pending_sealed, "carol") == "carol-pending");
  // The new blobs no longer open with the old ring alone: they really are under version 2.
  BOOST_TEST(!crypto::open_with_ring(ring, *bob.active_sealed, "bob").has_value());
}

BOOST_FIXTURE_TEST_CASE(the_audit_entry_is_chained_and_checkpoints_of_both_versions_verify, rotation_fixture) {
  enroll("alice", std::string("alice-active"), std::nullopt);  // entry 1, checkpoint under version 1
  auto report = storage::rotate_master_key(*db, key_file, clock, "cli");
  BOOST_REQUIRE(report);
  BOOST_TEST(report->audit_seq == 2U);

  const storage::audit_journal journal(*db);
  auto entry = journal.at(2);
  BOOST_REQUIRE(entry);
  BOOST_REQUIRE(entry->has_value());
  const auto& e = **entry;
  BOOST_TEST(e.action == "keys.rotate");
  BOOST_TEST(e.actor_type == "admin");
  BOOST_TEST(e.actor_id == "cli");
  BOOST_TEST(e.outcome == "ok");
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"from_version", "1"}, {"resealed_active", "1"}, {"resealed_pending", "0"}, {"to_version", "2"}};
  BOOST_TEST((e.details == expected));

  std::vector<std::uint32_t> checkpoint_versions;
  auto scanned = db->scan(storage::column_family::audit_checkpoints, storage::database::scan_direction::forward, {},
                          [&](std::string_view, std::string_view value) {
                            checkpoint_versions.push_back(storage::decode_audit_checkpoint(value)->key_version);
                            return true;
                          });
  BOOST_REQUIRE(scanned);
  BOOST_TEST((checkpoint_versions == std::vector<std::uint32_t>{1, 2}));

  auto loaded = storage::load_key_ring(key_file);
  BOOST_REQUIRE(loaded);
  auto verified = journal.verify(*loaded);
  BOOST_REQUIRE(verified);
  BOOST_TEST_MESSAGE(verified->reason);
  BOOST_TEST(verified->intact);
  BOOST_TEST(verified->entries == 2U);
  BOOST_TEST(verified->checkpoints == 2U);
}

BOOST_FIXTURE_TEST_CASE(a_crash_after_the_key_file_leaves_a_working_data_dir, rotation_fixture) {
  enroll("alice", std::string("alice-active"), std::nullopt);
  // Step 1 only, as if the process died before the re-seal batch.
  auto rotated = ring.rotated(1750000000);
  BOOST_REQUIRE(rotated);
  BOOST_REQUIRE(storage::save_key_ring(key_file, *rotated));
  reopen();
  auto loaded = storage::load_key_ring(key_file);
  BOOST_REQUIRE(loaded);
  BOOST_TEST(loaded->current().version == 2U);
  BOOST_TEST(open_blob(*loaded, *record_of("alice").active_sealed, "alice") == "alice-active");  // via version 1

  // Running the rotation again finishes the job with one more version.
  auto report = storage::rotate_master_key(*db, key_file, clock, "cli");
  BOOST_REQUIRE(report);
  BOOST_TEST(report->from_version == 2U);
  BOOST_TEST(report->to_version == 3U);
  BOOST_TEST(report->resealed.active == 1U);
  auto after = storage::load_key_ring(key_file);
  BOOST_REQUIRE(after);
  BOOST_TEST(version_of(record_of("alice").active_sealed) == 3U);
  BOOST_TEST(open_blob(*after, *record_of("alice").active_sealed, "alice") == "alice-active");
  auto verified = storage::audit_journal(*db).verify(*after);
  BOOST_REQUIRE(verified);
  BOOST_TEST(verified->intact);
}

BOOST_FIXTURE_TEST_CASE(reseal_is_idempotent_and_key_file_stays_private, rotation_fixture) {
  enroll("alice", std::string("alice-active"), std::nullopt);
  BOOST_REQUIRE(storage::rotate_master_key(*db, key_file, clock, "cli"));
  auto loaded = storage::load_key_ring(key_file);
  BOOST_REQUIRE(loaded);
  storage::change_set again;
  auto counts = storage::stage_reseal_authenticators(*db, *loaded, again);
  BOOST_REQUIRE(counts);
  BOOST_TEST(counts->records == 0U);
  BOOST_TEST(again.ops.empty());
  struct stat info {};
  BOOST_REQUIRE(::stat(key_file.c_str(), &info) == 0);
  BOOST_TEST((info.st_mode & 0777U) == 0600U);
}

BOOST_FIXTURE_TEST_CASE(a_blob_the_ring_cannot_open_stops_the_rotation_before_any_write, rotation_fixture) {
  // Sealed under a version the ring does not hold (e.g. a master.key restored from elsewhere).
  auto foreign = crypto::key_ring::parse("7 ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100\n");
  BOOST_REQUIRE(foreign);
  storage::authenticator_record record;
  record.active_sealed = *crypto::seal_with_ring(*foreign, bytes_of("x"), "dave");
  storage::change_set change;
  storage::authenticator_store(*db).stage_put("dave", record, change);
  BOOST_REQUIRE(db->write(change.ops));

  auto report = storage::rotate_master_key(*db, key_file, clock, "cli");
  BOOST_REQUIRE(!report);
  BOOST_TEST(report.error().message.find("dave") == std::string::npos);   // names no user
  BOOST_TEST(*record_of("dave").active_sealed == *record.active_sealed);  // untouched
  auto last = storage::audit_journal(*db).last_sequence();
  BOOST_REQUIRE(last);
  BOOST_TEST(*last == 0U);  // no entry for a rotation that did not happen
}

BOOST_AUTO_TEST_SUITE_END()
