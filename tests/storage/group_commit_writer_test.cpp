#include "storage/group_commit_writer.hpp"

#include <algorithm>
#include <atomic>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "audit_test_support.hpp"
#include "crypto/hex.hpp"
#include "storage/audit_checkpoint.hpp"
#include "storage/audit_journal.hpp"

using namespace callsign;
using storage::column_family;

namespace {

std::vector<std::uint64_t> checkpoint_seqs(const storage::database& db) {
  std::vector<std::uint64_t> seqs;
  auto scanned = db.scan(column_family::audit_checkpoints, storage::database::scan_direction::forward, {},
                         [&](std::string_view key, std::string_view) {
                           seqs.push_back(*storage::parse_audit_key(key));
                           return true;
                         });
  BOOST_REQUIRE(scanned);
  return seqs;
}

void require_intact(const storage::database& db, const crypto::key_ring& ring, std::uint64_t last_seq) {
  auto report = storage::audit_journal(db).verify(ring);
  BOOST_REQUIRE(report);
  BOOST_TEST_MESSAGE(report->reason);
  BOOST_TEST(report->intact);
  BOOST_TEST(report->last_seq == last_seq);
  BOOST_TEST(report->entries == last_seq);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(group_commit_writer_suite)

BOOST_FIXTURE_TEST_CASE(commit_writes_ops_entry_and_index_in_one_batch, test::journal_fixture) {
  auto writer = start_writer();
  storage::change_set change = test::change_with(test::draft_for("alice"));
  change.put(column_family::users, "alice", "record");
  change.add_audit(test::draft_for(""));  // no subject: no index key
  auto receipt = writer->commit(std::move(change));
  BOOST_REQUIRE(receipt);
  BOOST_TEST((receipt->audit_sequences == std::vector<std::uint64_t>{1, 2}));

  auto user = db->get(column_family::users, "alice");
  BOOST_REQUIRE(user);
  BOOST_TEST((user->has_value() && **user == "record"));
  auto index = db->get(column_family::audit_by_user, storage::audit_subject_key("alice", 1));
  BOOST_REQUIRE(index);
  BOOST_TEST(index->has_value());
  auto no_index = db->get(column_family::audit_by_user, storage::audit_subject_key("", 2));
  BOOST_REQUIRE(no_index);
  BOOST_TEST(!no_index->has_value());

  auto empty = writer->commit({});
  BOOST_REQUIRE(empty);
  BOOST_TEST(empty->audit_sequences.empty());
  const auto stats = writer->stats();
  BOOST_TEST(stats.entries_written == 2U);
  BOOST_TEST(stats.items_written == 2U);
}

BOOST_FIXTURE_TEST_CASE(concurrent_submitters_are_grouped_and_chained, test::journal_fixture) {
  constexpr int threads = 8;
  constexpr int per_thread = 200;
  auto writer = start_writer();
  std::mutex mutex;
  std::vector<std::vector<std::uint64_t>> seqs_by_thread(threads);
  std::atomic<int> completed{0};
  std::atomic<int> failed{0};
  std::vector<std::thread> submitters;
  for (int t = 0; t < threads; ++t) {
    submitters.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) {
        storage::change_set change =
            test::change_with(test::draft_for("user-" + std::to_string(t), i % 3 == 0 ? "invalid" : "valid"));
        change.put(column_family::counters, "t" + std::to_string(t) + "-" + std::to_string(i), "1");
        writer->submit(std::move(change), [&, t](result<storage::commit_receipt> r) {
          if (!r || r->audit_sequences.size() != 1) {
            ++failed;
          } else {
            const std::lock_guard lock(mutex);
            seqs_by_thread[static_cast<std::size_t>(t)].push_back(r->audit_sequences[0]);
          }
          ++completed;
        });
      }
    });
  }
  for (auto& s : submitters) s.join();
  writer->stop();  // drains the queue first
  BOOST_TEST(completed.load() == threads * per_thread);
  BOOST_TEST(failed.load() == 0);

  std::set<std::uint64_t> all;
  for (const auto& seqs : seqs_by_thread) {
    // Completions of one submitter arrive in its submission order, with rising seqs.
    BOOST_TEST(std::is_sorted(seqs.begin(), seqs.end()));
    all.insert(seqs.begin(), seqs.end());
  }
  BOOST_TEST(all.size() == static_cast<std::size_t>(threads * per_thread));
  BOOST_TEST(*all.begin() == 1U);
  BOOST_TEST(*all.rbegin() == static_cast<std::uint64_t>(threads * per_thread));

  const auto stats = writer->stats();
  BOOST_TEST_MESSAGE("groups " << stats.groups_written << " for " << stats.items_written << " items");
  BOOST_TEST(stats.items_written == static_cast<std::uint64_t>(threads * per_thread));
  BOOST_TEST(stats.groups_written < stats.items_written);
  require_intact(*db, ring, threads * per_thread);
}

BOOST_FIXTURE_TEST_CASE(reopen_recovers_the_head_and_continues_the_chain, test::journal_fixture) {
  {
    auto writer = start_writer(test::checkpoints(0, 0));
    for (int i = 0; i < 5; ++i) BOOST_REQUIRE(writer->commit(test::change_with(test::draft_for("bob"))));
  }
  auto fifth = storage::audit_journal(*db).at(5);
  BOOST_REQUIRE(fifth);
  BOOST_REQUIRE(fifth->has_value());
  const std::string fifth_hash = (*fifth)->hash;
  reopen();
  auto writer = start_writer();
  auto receipt = writer->commit(test::change_with(test::draft_for("bob")));
  BOOST_REQUIRE(receipt);
  BOOST_TEST((receipt->audit_sequences == std::vector<std::uint64_t>{6}));
  auto sixth = storage::audit_journal(*db).at(6);
  BOOST_REQUIRE(sixth);
  BOOST_REQUIRE(sixth->has_value());
  BOOST_TEST((*sixth)->prev_hash == fifth_hash);
  writer->stop();
  require_intact(*db, ring, 6);
}

BOOST_FIXTURE_TEST_CASE(checkpoint_every_n_entries_and_on_stop, test::journal_fixture) {
  auto writer = start_writer(test::checkpoints(10, 0));
  for (int i = 0; i < 35; ++i) BOOST_REQUIRE(writer->commit(test::change_with(test::draft_for("carol"))));
  BOOST_TEST((checkpoint_seqs(*db) == std::vector<std::uint64_t>{10, 20, 30}));
  writer->stop();
  BOOST_TEST((checkpoint_seqs(*db) == std::vector<std::uint64_t>{10, 20, 30, 35}));
  BOOST_TEST(writer->stats().checkpoints_written == 4U);

  // The checkpoint is signed by the ring's current version (2) over the entry's hash.
  auto stored = db->get(column_family::audit_checkpoints, storage::audit_key(20));
  BOOST_REQUIRE(stored);
  BOOST_REQUIRE(stored->has_value());
  auto checkpoint = storage::decode_audit_checkpoint(**stored);
  BOOST_REQUIRE(checkpoint);
  BOOST_TEST(checkpoint->key_version == 2U);
  BOOST_TEST(checkpoint->time == 1700000000);
  auto key = storage::audit_checkpoint_key(*ring.find(2));
  BOOST_REQUIRE(key);
  BOOST_TEST(storage::audit_checkpoint_signature_valid(*checkpoint, key->public_key()));
  auto entry = storage::audit_journal(*db).at(20);
  BOOST_REQUIRE(entry);
  BOOST_TEST(crypto::hex_encode(checkpoint->entry_hash) == (*entry)->hash);
  require_intact(*db, ring, 35);
}

BOOST_FIXTURE_TEST_CASE(checkpoint_after_interval_even_when_idle, test::journal_fixture) {
  auto writer = start_writer(test::checkpoints(0, 60));
  BOOST_REQUIRE(writer->commit(test::change_with(test::draft_for("dave"))));
  BOOST_TEST(checkpoint_seqs(*db).empty());
  clock.advance(std::chrono::seconds(61));
  // The next group carries the due checkpoint.
  BOOST_REQUIRE(writer->commit(test::change_with(test::draft_for("dave"))));
  BOOST_TEST((checkpoint_seqs(*db) == std::vector<std::uint64_t>{2}));
  // With no traffic at all, the writer's timer signs the waiting entry by itself.
  BOOST_REQUIRE(writer->commit(test::change_with(test::draft_for("dave"))));
  clock.advance(std::chrono::seconds(61));
  for (int i = 0; i < 50 && checkpoint_seqs(*db).size() < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  BOOST_TEST((checkpoint_seqs(*db) == std::vector<std::uint64_t>{2, 3}));
}

BOOST_FIXTURE_TEST_CASE(failed_write_fails_the_group_and_keeps_the_head, test::journal_fixture) {
  std::atomic<bool> fail{false};
  auto options = test::checkpoints(0, 0);
  options.fault_injector = [&fail]() -> result<void> {
    if (fail) return make_error(error_kind::unavailable, "injected write failure");
    return {};
  };
  auto writer = start_writer(std::move(options));
  BOOST_REQUIRE(writer->commit(test::change_with(test::draft_for("erin"))));
  fail = true;
  storage::change_set change = test::change_with(test::draft_for("erin"));
  change.put(column_family::users, "erin", "never");
  auto failed = writer->commit(std::move(change));
  BOOST_REQUIRE(!failed);
  BOOST_TEST((failed.error().kind == error_kind::unavailable));
  fail = false;
  auto next = writer->commit(test::change_with(test::draft_for("erin")));
  BOOST_REQUIRE(next);
  BOOST_TEST((next->audit_sequences == std::vector<std::uint64_t>{2}));  // seq 2 was not burnt
  auto user = db->get(column_family::users, "erin");
  BOOST_REQUIRE(user);
  BOOST_TEST(!user->has_value());
  BOOST_TEST(writer->stats().groups_failed == 1U);
  writer->stop();
  require_intact(*db, ring, 2);
}

// Failed writes among many small groups submitted at once: whatever fails, what succeeds forms
// one intact chain with no sequence number burnt or reused.
BOOST_FIXTURE_TEST_CASE(failed_writes_among_many_groups_keep_one_intact_chain, test::journal_fixture) {
  std::atomic<int> writes{0};
  auto options = test::checkpoints(50, 0);
  options.max_group_items = 7;  // many small groups, so several are in flight at once
  options.fault_injector = [&writes]() -> result<void> {
    const int n = ++writes;
    if (n == 5 || n == 6 || n == 19) return make_error(error_kind::unavailable, "injected write failure");
    return {};
  };
  auto writer = start_writer(std::move(options));
  std::mutex mutex;
  std::vector<std::uint64_t> committed;
  int failed = 0;
  std::atomic<int> done{0};
  constexpr int total = 300;
  for (int i = 0; i < total; ++i) {
    writer->submit(test::change_with(test::draft_for("user-" + std::to_string(i % 9))),
                   [&](result<storage::commit_receipt> outcome) {
                     {
                       const std::lock_guard lock(mutex);
                       if (outcome) {
                         committed.insert(committed.end(), outcome->audit_sequences.begin(),
                                          outcome->audit_sequences.end());
                       } else {
                         ++failed;
                       }
                     }
                     ++done;
                   });
  }
  writer->stop();
  BOOST_TEST(done.load() == total);
  BOOST_TEST(failed > 0);
  std::sort(committed.begin(), committed.end());
  BOOST_REQUIRE(!committed.empty());
  for (std::size_t i = 0; i < committed.size(); ++i) BOOST_TEST(committed[i] == i + 1);  // no gaps, none reused
  BOOST_TEST(committed.size() + static_cast<std::size_t>(failed) == static_cast<std::size_t>(total));
  require_intact(*db, ring, committed.size());
}

BOOST_FIXTURE_TEST_CASE(a_real_rocksdb_write_failure_is_an_error_value, test::journal_fixture) {
  {
    auto writer = start_writer();
    BOOST_REQUIRE(writer->commit(test::change_with(test::draft_for("frank"))));
  }
  // A read-only view refuses writes inside RocksDB itself.
  auto view = storage::database::open_read_only(dir.path() / "db");
  BOOST_REQUIRE(view);
  auto writer = storage::group_commit_writer::start(**view, ring, clock, {});
  BOOST_REQUIRE(writer);
  auto failed = (*writer)->commit(test::change_with(test::draft_for("frank")));
  BOOST_REQUIRE(!failed);
  BOOST_TEST((failed.error().kind == error_kind::storage_failed));
}

BOOST_FIXTURE_TEST_CASE(bad_changes_fail_alone, test::journal_fixture) {
  auto writer = start_writer();
  storage::audit_draft no_action = test::draft_for("gina");
  no_action.action.clear();
  storage::change_set sneaky;
  sneaky.put(column_family::audit, storage::audit_key(1), "forged");
  storage::audit_draft repeated = test::draft_for("gina");
  repeated.details.emplace_back("ticket", "again");

  std::vector<result<storage::commit_receipt>> outcomes;
  std::mutex mutex;
  std::atomic<int> done{0};
  const auto record = [&](result<storage::commit_receipt> r) {
    const std::lock_guard lock(mutex);
    outcomes.push_back(std::move(r));
    ++done;
  };
  writer->submit(test::change_with(no_action), record);
  writer->submit(std::move(sneaky), record);
  writer->submit(test::change_with(repeated), record);
  writer->submit(test::change_with(test::draft_for("gina")), record);
  writer->stop();
  BOOST_REQUIRE(done.load() == 4);
  int ok = 0;
  for (const auto& outcome : outcomes) {
    if (outcome) {
      ++ok;
      BOOST_TEST((outcome->audit_sequences == std::vector<std::uint64_t>{1}));
    } else {
      BOOST_TEST((outcome.error().kind == error_kind::invalid_input));
    }
  }
  BOOST_TEST(ok == 1);
  require_intact(*db, ring, 1);
}

BOOST_FIXTURE_TEST_CASE(submit_after_stop_is_refused_at_once, test::journal_fixture) {
  auto writer = start_writer();
  writer->stop();
  writer->stop();  // idempotent
  auto refused = writer->commit(test::change_with(test::draft_for("hank")));
  BOOST_REQUIRE(!refused);
  BOOST_TEST((refused.error().kind == error_kind::unavailable));
}

BOOST_FIXTURE_TEST_CASE(refuses_to_start_over_a_truncated_tail, test::journal_fixture) {
  {
    auto writer = start_writer(test::checkpoints(5, 0));
    for (int i = 0; i < 5; ++i) BOOST_REQUIRE(writer->commit(test::change_with(test::draft_for("ivy"))));
  }
  const std::vector<storage::write_op> remove{
      {storage::write_op::kind::remove, column_family::audit, storage::audit_key(5), {}}};
  BOOST_REQUIRE(db->write(remove));
  auto writer = storage::group_commit_writer::start(*db, ring, clock, {});
  BOOST_REQUIRE(!writer);
  BOOST_TEST(writer.error().message.find("beyond the last entry") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
