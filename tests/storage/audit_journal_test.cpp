#include "storage/audit_journal.hpp"

#include <boost/test/unit_test.hpp>
#include <string>
#include <vector>

#include "audit_test_support.hpp"
#include "crypto/hex.hpp"
#include "crypto/sha256.hpp"
#include "storage/audit_checkpoint.hpp"

using namespace callsign;
using storage::column_family;

namespace {

// Commits `count` single-entry changes, subjects alternating alice/bob, and stops the writer.
void fill(test::journal_fixture& f, int count, storage::group_commit_options options = {}) {
  auto writer = f.start_writer(std::move(options));
  for (int i = 0; i < count; ++i) {
    storage::audit_draft draft = test::draft_for(i % 2 == 0 ? "alice" : "bob");
    draft.request_id = "req-" + std::to_string(i + 1);
    BOOST_REQUIRE(writer->commit(test::change_with(std::move(draft))));
  }
}

std::string stored_entry(const storage::database& db, std::uint64_t seq) {
  auto stored = db.get(column_family::audit, storage::audit_key(seq));
  BOOST_REQUIRE(stored);
  BOOST_REQUIRE(stored->has_value());
  return **stored;
}

storage::audit_verification verify(const test::journal_fixture& f) {
  auto report = storage::audit_journal(*f.db).verify(f.ring);
  BOOST_REQUIRE(report);
  BOOST_TEST_MESSAGE("verify: " << report->first_bad_seq << " " << report->reason);
  return *report;
}

void remove_key(storage::database& db, column_family cf, std::uint64_t seq) {
  const std::vector<storage::write_op> ops{{storage::write_op::kind::remove, cf, storage::audit_key(seq), {}}};
  BOOST_REQUIRE(db.write(ops));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(audit_journal_suite)

BOOST_AUTO_TEST_CASE(encoding_is_canonical_and_round_trips) {
  storage::audit_draft draft = test::draft_for("alice");
  draft.request_id = "line\nbreak \"quoted\" \\ \x01";
  draft.actor_id = std::string("bad\xff") + "utf8 \xc3\xa9";
  const storage::audit_hash zeros{};
  const std::string stored = storage::encode_audit_entry(7, zeros, draft);
  BOOST_TEST(
      stored ==
      "{\"v\":1,\"seq\":7,\"time\":1700000000,\"actor_type\":\"agent\",\"actor_id\":\"bad\xef\xbf\xbdutf8 "
      "\xc3\xa9\",\"action\":\"verify\",\"subject\":\"alice\",\"outcome\":\"valid\",\"source_ip\":\"192.0.2.10\","
      "\"request_id\":\"line\\nbreak \\\"quoted\\\" \\\\ \\u0001\",\"details\":{\"method\":\"phone_token\","
      "\"ticket\":\"T-42\"},\"prev_hash\":\"" +
          std::string(64, '0') + "\"}");
  BOOST_TEST(storage::encode_audit_entry(7, zeros, draft) == stored);  // deterministic

  auto entry = storage::decode_audit_entry(stored);
  BOOST_REQUIRE(entry);
  BOOST_TEST(entry->seq == 7U);
  BOOST_TEST(entry->request_id == draft.request_id);
  BOOST_TEST(entry->details.size() == 2U);
  BOOST_TEST(entry->details[0].first == "method");
  BOOST_TEST(entry->hash == crypto::hex_encode(crypto::sha256(stored)));
  // The export/API JSON is the stored object plus a final "hash" member.
  const std::string json = storage::audit_entry_json(*entry);
  BOOST_TEST(json == stored.substr(0, stored.size() - 1) + ",\"hash\":\"" + entry->hash + "\"}");

  BOOST_TEST(!storage::decode_audit_entry("{\"seq\":7}"));
  BOOST_TEST(!storage::decode_audit_entry("not json"));
  std::string reordered = stored;
  reordered.replace(reordered.find("\"v\":1,"), 6, "");
  BOOST_TEST(!storage::decode_audit_entry(reordered));
}

BOOST_AUTO_TEST_CASE(drafts_are_validated) {
  BOOST_TEST(storage::validate_audit_draft(test::draft_for("alice")).has_value());
  auto draft = test::draft_for(std::string("al\0ice", 6));
  BOOST_TEST(!storage::validate_audit_draft(draft).has_value());
  draft = test::draft_for("alice");
  draft.outcome = std::string(1025, 'x');
  BOOST_TEST(!storage::validate_audit_draft(draft).has_value());
  draft = test::draft_for("alice");
  draft.details.emplace_back("", "x");
  BOOST_TEST(!storage::validate_audit_draft(draft).has_value());
}

BOOST_FIXTURE_TEST_CASE(chain_links_every_entry, test::journal_fixture) {
  fill(*this, 300, test::checkpoints(100, 0));
  std::string prev(64, '0');
  for (std::uint64_t seq = 1; seq <= 300; ++seq) {
    const std::string stored = stored_entry(*db, seq);
    auto entry = storage::decode_audit_entry(stored);
    BOOST_REQUIRE(entry);
    BOOST_REQUIRE(entry->seq == seq);
    BOOST_REQUIRE(entry->prev_hash == prev);
    prev = crypto::hex_encode(crypto::sha256(stored));
  }
  const auto report = verify(*this);
  BOOST_TEST(report.intact);
  BOOST_TEST(report.entries == 300U);
  BOOST_TEST(report.checkpoints == 3U);
  BOOST_TEST(report.last_checkpoint_seq == 300U);
}

BOOST_FIXTURE_TEST_CASE(queries, test::journal_fixture) {
  fill(*this, 9);  // alice: 1 3 5 7 9, bob: 2 4 6 8
  {
    // A subject that extends another must not show up in its trail.
    auto writer = start_writer();
    BOOST_REQUIRE(writer->commit(test::change_with(test::draft_for("alice2"))));  // seq 10
  }
  const storage::audit_journal journal(*db);
  const auto seqs = [](const std::vector<storage::audit_entry>& entries) {
    std::vector<std::uint64_t> out;
    for (const auto& e : entries) out.push_back(e.seq);
    return out;
  };
  auto alice = journal.for_subject("alice", 10);
  BOOST_REQUIRE(alice);
  BOOST_TEST((seqs(*alice) == std::vector<std::uint64_t>{9, 7, 5, 3, 1}));
  auto limited = journal.for_subject("alice", 2);
  BOOST_REQUIRE(limited);
  BOOST_TEST((seqs(*limited) == std::vector<std::uint64_t>{9, 7}));
  auto before = journal.for_subject("alice", 2, 7);
  BOOST_REQUIRE(before);
  BOOST_TEST((seqs(*before) == std::vector<std::uint64_t>{5, 3}));
  auto bob = journal.for_subject("bob", 100, 3);
  BOOST_REQUIRE(bob);
  BOOST_TEST((seqs(*bob) == std::vector<std::uint64_t>{2}));
  auto nobody = journal.for_subject("carol", 10);
  BOOST_REQUIRE(nobody);
  BOOST_TEST(nobody->empty());
  auto al = journal.for_subject("al", 10);
  BOOST_REQUIRE(al);
  BOOST_TEST(al->empty());

  // Forward from a sequence number (GET /v1/audit?user=&after=).
  auto forward = journal.for_subject_after("alice", 0, 10);
  BOOST_REQUIRE(forward);
  BOOST_TEST((seqs(*forward) == std::vector<std::uint64_t>{1, 3, 5, 7, 9}));  // not alice2's 10
  auto next = journal.for_subject_after("alice", 3, 2);
  BOOST_REQUIRE(next);
  BOOST_TEST((seqs(*next) == std::vector<std::uint64_t>{5, 7}));
  auto bob_after = journal.for_subject_after("bob", 8, 10);
  BOOST_REQUIRE(bob_after);
  BOOST_TEST(bob_after->empty());
  auto al_after = journal.for_subject_after("al", 0, 10);
  BOOST_REQUIRE(al_after);
  BOOST_TEST(al_after->empty());

  auto page = journal.after(3, 4);
  BOOST_REQUIRE(page);
  BOOST_TEST((seqs(*page) == std::vector<std::uint64_t>{4, 5, 6, 7}));
  auto tail = journal.after(8, 100);
  BOOST_REQUIRE(tail);
  BOOST_TEST((seqs(*tail) == std::vector<std::uint64_t>{9, 10}));

  auto one = journal.at(4);
  BOOST_REQUIRE(one);
  BOOST_REQUIRE(one->has_value());
  BOOST_TEST((*one)->subject == "bob");
  BOOST_TEST((*one)->request_id == "req-4");
  BOOST_TEST((*one)->actor_type == "agent");
  BOOST_TEST((*one)->actor_id == "agent-7");
  BOOST_TEST((*one)->outcome == "valid");
  BOOST_TEST((*one)->source_ip == "192.0.2.10");
  auto absent = journal.at(11);
  BOOST_REQUIRE(absent);
  BOOST_TEST(!absent->has_value());
  auto last = journal.last_sequence();
  BOOST_REQUIRE(last);
  BOOST_TEST(*last == 10U);
}

BOOST_FIXTURE_TEST_CASE(empty_journal_is_intact, test::journal_fixture) {
  const auto report = verify(*this);
  BOOST_TEST(report.intact);
  BOOST_TEST(report.entries == 0U);
  auto last = storage::audit_journal(*db).last_sequence();
  BOOST_REQUIRE(last);
  BOOST_TEST(*last == 0U);
}

BOOST_FIXTURE_TEST_CASE(verify_names_an_edited_entry, test::journal_fixture) {
  fill(*this, 20, test::checkpoints(0, 0));
  std::string stored = stored_entry(*db, 7);
  stored.replace(stored.find("\"outcome\":\"valid\""), 17, "\"outcome\":\"vaLid\"");
  BOOST_REQUIRE(db->put(column_family::audit, storage::audit_key(7), stored));
  const auto report = verify(*this);
  BOOST_TEST(!report.intact);
  BOOST_TEST(report.first_bad_seq == 7U);
  BOOST_TEST(report.last_seq == 7U);
}

BOOST_FIXTURE_TEST_CASE(verify_names_a_garbled_entry, test::journal_fixture) {
  fill(*this, 20);
  BOOST_REQUIRE(db->put(column_family::audit, storage::audit_key(12), "corrupted"));
  const auto report = verify(*this);
  BOOST_TEST(!report.intact);
  BOOST_TEST(report.first_bad_seq == 12U);
  BOOST_TEST(report.reason.find("does not parse") != std::string::npos);
}

BOOST_FIXTURE_TEST_CASE(verify_catches_an_edited_last_entry_through_its_checkpoint, test::journal_fixture) {
  fill(*this, 20);  // stop() signs a final checkpoint at 20
  std::string stored = stored_entry(*db, 20);
  stored.replace(stored.find("\"outcome\":\"valid\""), 17, "\"outcome\":\"vaLid\"");
  BOOST_REQUIRE(db->put(column_family::audit, storage::audit_key(20), stored));
  const auto report = verify(*this);
  BOOST_TEST(!report.intact);
  BOOST_TEST(report.first_bad_seq == 20U);
  BOOST_TEST(report.reason.find("checkpoint") != std::string::npos);
}

BOOST_FIXTURE_TEST_CASE(verify_detects_a_missing_entry, test::journal_fixture) {
  fill(*this, 20);
  remove_key(*db, column_family::audit, 9);
  const auto report = verify(*this);
  BOOST_TEST(!report.intact);
  BOOST_TEST(report.first_bad_seq == 9U);
  BOOST_TEST(report.reason.find("missing") != std::string::npos);
}

BOOST_FIXTURE_TEST_CASE(verify_detects_a_truncated_tail, test::journal_fixture) {
  fill(*this, 25, test::checkpoints(10, 0));  // checkpoints 10 20 25
  for (std::uint64_t seq = 16; seq <= 25; ++seq) remove_key(*db, column_family::audit, seq);
  const auto report = verify(*this);
  BOOST_TEST(!report.intact);
  BOOST_TEST(report.first_bad_seq == 16U);
  BOOST_TEST(report.reason.find("truncated") != std::string::npos);
}

BOOST_FIXTURE_TEST_CASE(verify_detects_a_bad_checkpoint_signature, test::journal_fixture) {
  fill(*this, 25, test::checkpoints(10, 0));
  auto stored = db->get(column_family::audit_checkpoints, storage::audit_key(20));
  BOOST_REQUIRE(stored);
  BOOST_REQUIRE(stored->has_value());
  auto checkpoint = storage::decode_audit_checkpoint(**stored);
  BOOST_REQUIRE(checkpoint);
  checkpoint->signature[5] ^= 0x04U;
  BOOST_REQUIRE(
      db->put(column_family::audit_checkpoints, storage::audit_key(20), storage::encode_audit_checkpoint(*checkpoint)));
  const auto report = verify(*this);
  BOOST_TEST(!report.intact);
  BOOST_TEST(report.first_bad_seq == 20U);
  BOOST_TEST(report.reason.find("invalid signature") != std::string::npos);
}

BOOST_FIXTURE_TEST_CASE(verify_needs_the_signing_key_version, test::journal_fixture) {
  fill(*this, 3);  // final checkpoint signed with version 2
  auto only_v1 = crypto::key_ring::parse("1 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n");
  BOOST_REQUIRE(only_v1);
  auto report = storage::audit_journal(*db).verify(*only_v1);
  BOOST_REQUIRE(report);
  BOOST_TEST(!report->intact);
  BOOST_TEST(report->first_bad_seq == 3U);
  BOOST_TEST(report->reason.find("key version 2") != std::string::npos);
}

BOOST_FIXTURE_TEST_CASE(read_only_view_beside_a_running_writer, test::journal_fixture) {
  auto writer = start_writer();
  for (int i = 0; i < 5; ++i) BOOST_REQUIRE(writer->commit(test::change_with(test::draft_for("zed"))));
  auto view = storage::database::open_read_only(dir.path() / "db");
  BOOST_REQUIRE_MESSAGE(view, (view ? std::string() : view.error().message));
  auto report = storage::audit_journal(**view).verify(ring);
  BOOST_REQUIRE(report);
  BOOST_TEST(report->intact);
  BOOST_TEST(report->last_seq == 5U);
  BOOST_TEST(!(*view)->put(column_family::users, "x", "y"));
  // The primary keeps writing while the view is open.
  BOOST_REQUIRE(writer->commit(test::change_with(test::draft_for("zed"))));
  BOOST_TEST(!storage::database::open_read_only(dir.path() / "absent"));
}

BOOST_AUTO_TEST_SUITE_END()
