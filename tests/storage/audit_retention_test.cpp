// Audit retention (storage/audit_retention.hpp): pruning up to a signed checkpoint keeps the
// journal verifiable, and verify() refuses a head removed without a declaring audit.prune entry,
// beyond the declared horizon, or without its anchor checkpoint. Real RocksDB, real writer.
#include <boost/test/unit_test.hpp>

#include "audit_links_support.hpp"
#include "audit_test_support.hpp"
#include "storage/audit_journal.hpp"
#include "storage/audit_links.hpp"
#include "storage/audit_retention.hpp"

using namespace callsign;
using namespace std::chrono_literals;

namespace {

const storage::audit_prune_actor operator_cli{"admin", "cli"};

std::string detail(const storage::audit_entry& entry, std::string_view key) {
  for (const auto& [k, v] : entry.details) {
    if (k == key) return v;
  }
  return {};
}

struct retention_fixture : test::journal_fixture {
  std::unique_ptr<storage::group_commit_writer> writer = start_writer(test::checkpoints(4, 0));

  // `count` entries at the clock's time, alternately about alice and bob (checkpoints every 4).
  void add(int count) {
    for (int i = 0; i < count; ++i) {
      auto draft = test::draft_for(i % 2 ? "alice" : "bob");
      draft.time = clock.unix_seconds();
      BOOST_REQUIRE(writer->commit(test::change_with(std::move(draft))));
    }
  }

  storage::audit_verification verify() const {
    auto report = storage::audit_journal(*db).verify(ring);
    BOOST_REQUIRE(report);
    if (!report->intact) BOOST_TEST_MESSAGE("verify: " << report->reason);
    return *report;
  }

  storage::audit_prune_report prune(std::int64_t cutoff) {
    auto report = storage::prune_audit_journal(*db, *writer, ring, cutoff, clock.unix_seconds(), operator_cli);
    BOOST_REQUIRE_MESSAGE(report, (report ? std::string() : report.error().message));
    return *report;
  }

  std::vector<std::uint64_t> stored_keys(storage::column_family cf) const {
    std::vector<std::uint64_t> seqs;
    BOOST_REQUIRE(db->scan(cf, storage::database::scan_direction::forward, {}, [&](std::string_view key, auto) {
      seqs.push_back(*storage::parse_audit_key(key.substr(key.size() - 8)));
      return true;
    }));
    return seqs;
  }

  // Commits the audit.prune entry that declares the checkpoint at `through`, as
  // prune_audit_journal does first, signed with `signer`'s current key.
  void declare(std::uint64_t through, const crypto::key_ring* signer = nullptr) {
    auto anchor = storage::audit_journal(*db).checkpoint_at(through).value();
    BOOST_REQUIRE(anchor.has_value());
    auto draft = storage::audit_prune_draft(signer ? *signer : ring, *anchor, through, 0, clock.unix_seconds(),
                                            operator_cli);
    BOOST_REQUIRE(draft);
    BOOST_REQUIRE(writer->commit(test::change_with(std::move(*draft))));
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(audit_retention_suite)

BOOST_FIXTURE_TEST_CASE(pruning_through_a_checkpoint_keeps_the_journal_verifiable, retention_fixture) {
  add(10);  // checkpoints at 4 and 8, signed at t0
  clock.advance(100s);
  add(5);  // 11..15, checkpoint at 12 signed at t0+100
  const std::int64_t t0 = 1700000000;

  const auto report = prune(t0 + 50);
  BOOST_TEST(report.through == 8U);  // the newest checkpoint signed before the cutoff
  BOOST_TEST(report.removed == 8U);
  BOOST_TEST(report.first_seq == 9U);
  BOOST_TEST(report.prune_entry == 16U);  // declared at the tail before anything was removed

  const auto verified = verify();
  BOOST_TEST(verified.intact);
  BOOST_TEST(verified.pruned_through == 8U);
  BOOST_TEST(verified.entries == 8U);  // 9..16
  BOOST_TEST(verified.last_seq == 16U);
  BOOST_TEST(verified.checkpoints == 3U);  // the anchor at 8, then 12 and 16

  // Entries, their index rows and the checkpoints below the anchor are gone; the anchor stays.
  const auto entries = stored_keys(storage::column_family::audit);
  BOOST_TEST(entries.front() == 9U);
  BOOST_TEST(entries.size() == 8U);
  for (auto seq : stored_keys(storage::column_family::audit_by_user)) BOOST_TEST(seq > 8U);
  BOOST_TEST((stored_keys(storage::column_family::audit_checkpoints) == std::vector<std::uint64_t>{8, 12, 16}));

  const storage::audit_journal journal(*db);
  BOOST_TEST(journal.first_sequence().value() == 9U);
  const auto trail = journal.for_subject("alice", 100).value();
  BOOST_TEST(trail.size() == 3U);  // 10, 12, 14
  auto entry = journal.at(16).value();
  BOOST_REQUIRE(entry.has_value());
  BOOST_TEST(entry->action == "audit.prune");
  BOOST_TEST(entry->actor_type == "admin");
  BOOST_TEST(detail(*entry, "through") == "8");
  BOOST_TEST(detail(*entry, "entries") == "8");
  BOOST_TEST(detail(*entry, "cutoff") == std::to_string(t0 + 50));
  BOOST_TEST(detail(*entry, "entry_hash").size() == 64U);
  BOOST_TEST(detail(*entry, "key_version") == std::to_string(ring.current().version));
  BOOST_TEST(detail(*entry, "signature").size() == 128U);

  // The writer goes on, and a restart recovers the head as before.
  add(1);
  writer.reset();
  reopen();
  writer = start_writer(test::checkpoints(4, 0));
  add(1);
  BOOST_TEST(verify().intact);
}

BOOST_FIXTURE_TEST_CASE(nothing_due_adds_nothing_and_a_later_cutoff_moves_the_horizon, retention_fixture) {
  add(10);
  const std::int64_t t0 = 1700000000;
  BOOST_TEST(prune(t0).through == 0U);  // no checkpoint was signed before t0
  BOOST_TEST(storage::audit_journal(*db).last_sequence().value() == 10U);

  clock.advance(100s);
  const auto first = prune(t0 + 1);
  BOOST_TEST(first.through == 8U);
  BOOST_TEST(prune(t0 + 1).through == 0U);  // pruned through it already: no second entry
  add(6);  // 12..17, checkpoint at 12 and 16 at t0+100
  clock.advance(100s);
  const auto second = prune(t0 + 101);
  BOOST_TEST(second.through == 16U);
  BOOST_TEST(second.removed == 8U);  // 9..16
  const auto verified = verify();
  BOOST_TEST(verified.intact);
  BOOST_TEST(verified.pruned_through == 16U);
  // The first prune's entry (seq 11) is gone with its stretch; the second one declares enough.
  BOOST_TEST(storage::audit_journal(*db).first_sequence().value() == 17U);

  // Idle: another node links this prune entry (several nodes); once both are old, they are all
  // that could go, so nothing is due and nothing is added.
  storage::change_set link;
  link.add_audit(storage::audit_link_draft(clock.unix_seconds(), std::vector<storage::audit_link>{
                                                                     {"node-b", 3, storage::audit_hash{}}}));
  BOOST_REQUIRE(writer->commit(std::move(link)));  // seq 19
  add(1);                                           // 20: a checkpoint covers 17..20
  clock.advance(100s);
  const auto busy = prune(clock.unix_seconds() - 50);
  BOOST_TEST(busy.through == 20U);  // entry 20 is news: pruned, with the housekeeping before it
  const auto last = storage::audit_journal(*db).last_sequence().value();
  add(0);
  storage::change_set relink;
  relink.add_audit(storage::audit_link_draft(clock.unix_seconds(), std::vector<storage::audit_link>{
                                                                       {"node-b", 4, storage::audit_hash{}}}));
  BOOST_REQUIRE(writer->commit(std::move(relink)));
  writer.reset();  // the final checkpoint covers the link
  writer = start_writer(test::checkpoints(4, 0));
  clock.advance(100s);
  BOOST_TEST(prune(clock.unix_seconds() - 50).through == 0U);  // only a prune entry and a link left
  BOOST_TEST(storage::audit_journal(*db).last_sequence().value() == last + 1);
  BOOST_TEST(verify().intact);
}

BOOST_FIXTURE_TEST_CASE(a_crash_between_stretches_leaves_a_verifiable_journal, retention_fixture) {
  add(12);  // checkpoints at 4, 8, 12
  declare(12);  // seq 13: what prune_audit_journal commits before removing anything
  // Only the first stretch was removed when the process died.
  BOOST_TEST(storage::remove_audit_entries_through(*db, ring, 4).value() == 4U);
  auto verified = verify();
  BOOST_TEST(verified.intact);
  BOOST_TEST(verified.pruned_through == 4U);
  // The next run finishes the work.
  BOOST_TEST(storage::remove_audit_entries_through(*db, ring, 12).value() == 8U);
  verified = verify();
  BOOST_TEST(verified.intact);
  BOOST_TEST(verified.pruned_through == 12U);
}

BOOST_FIXTURE_TEST_CASE(the_horizon_goes_by_the_signed_entry_time_not_the_checkpoints, retention_fixture) {
  add(10);  // checkpoints at 4 and 8, at t0
  clock.advance(100s);
  add(4);  // checkpoint at 12, at t0+100
  // A checkpoint's own time is not signed: someone sets checkpoint 12's to 1970. Its signature
  // still verifies, but entry 12's time (which it covers) says t0+100, after the cutoff.
  auto c12 = storage::audit_journal(*db).checkpoint_at(12).value();
  BOOST_REQUIRE(c12.has_value());
  c12->time = 1;
  BOOST_REQUIRE(db->put(storage::column_family::audit_checkpoints, storage::audit_key(12),
                        storage::encode_audit_checkpoint(*c12)));
  BOOST_TEST(verify().intact);
  BOOST_TEST(prune(1700000050).through == 8U);
  BOOST_TEST(verify().intact);
}

BOOST_FIXTURE_TEST_CASE(a_journal_that_does_not_verify_is_not_pruned, retention_fixture) {
  add(10);
  clock.advance(100s);
  // Entry 3 edited (its JSON still valid): pruning it would hide the edit.
  auto stored = db->get(storage::column_family::audit, storage::audit_key(3)).value();
  BOOST_REQUIRE(stored.has_value());
  const auto at = stored->find("\"outcome\":\"valid\"");
  BOOST_REQUIRE(at != std::string::npos);
  stored->replace(at, 17, "\"outcome\":\"VALID\"");
  BOOST_REQUIRE(db->put(storage::column_family::audit, storage::audit_key(3), *stored));
  auto refused = storage::prune_audit_journal(*db, *writer, ring, 1700000001, clock.unix_seconds(), operator_cli);
  BOOST_REQUIRE(!refused);
  BOOST_TEST(refused.error().message.find("does not verify at seq 4") != std::string::npos, refused.error().message);
  BOOST_TEST(storage::audit_journal(*db).last_sequence().value() == 10U);  // no declaration added
  BOOST_TEST(storage::audit_journal(*db).first_sequence().value() == 1U);  // nothing removed
  BOOST_TEST(verify().first_bad_seq == 3U);
  // A wrong key ring (a stale master.key) prunes nothing either.
  auto other = crypto::key_ring::generate();
  BOOST_REQUIRE(other);
  auto foreign = storage::prune_audit_journal(*db, *writer, *other, 1700000001, clock.unix_seconds(), operator_cli);
  BOOST_REQUIRE(!foreign);
  BOOST_TEST(foreign.error().message.find("signature does not verify") != std::string::npos, foreign.error().message);
}

BOOST_FIXTURE_TEST_CASE(a_head_removed_without_a_declaration_is_refused, retention_fixture) {
  add(10);
  BOOST_TEST(storage::remove_audit_entries_through(*db, ring, 8).value() == 8U);  // no audit.prune entry
  const auto verified = verify();
  BOOST_TEST(!verified.intact);
  BOOST_TEST(verified.first_bad_seq == 1U);
  BOOST_TEST(verified.reason.find("no signed audit.prune entry declares a pruning") != std::string::npos,
             verified.reason);
}

BOOST_FIXTURE_TEST_CASE(a_declaration_without_the_key_declares_nothing, retention_fixture) {
  // Someone with the database but not the master key ring removes the head and appends a
  // declaration of their own: unsigned, signed with another ring, or a copy of the anchor
  // checkpoint's signature (another message). None of them counts.
  add(10);  // checkpoints at 4 and 8
  const auto anchor = storage::audit_journal(*db).checkpoint_at(8).value();
  BOOST_REQUIRE(anchor.has_value());
  auto unsigned_draft = storage::audit_prune_draft(ring, *anchor, 8, 0, clock.unix_seconds(), operator_cli).value();
  std::erase_if(unsigned_draft.details, [](const auto& d) { return d.first == "signature"; });
  BOOST_REQUIRE(writer->commit(test::change_with(unsigned_draft)));
  auto copied = storage::audit_prune_draft(ring, *anchor, 8, 0, clock.unix_seconds(), operator_cli).value();
  for (auto& [key, value] : copied.details) {
    if (key == "signature") value = crypto::hex_encode(anchor->signature);
  }
  BOOST_REQUIRE(writer->commit(test::change_with(copied)));
  auto other = crypto::key_ring::generate();
  BOOST_REQUIRE(other);
  declare(8, &*other);  // version 1 of another ring: this ring's version 1 does not verify it
  BOOST_TEST(storage::remove_audit_entries_through(*db, ring, 8).value() == 8U);
  auto verified = verify();
  BOOST_TEST(!verified.intact);
  BOOST_TEST(verified.reason.find("no signed audit.prune entry declares a pruning") != std::string::npos,
             verified.reason);
  // The real declaration, signed with this ring, makes the same head acceptable.
  declare(8);
  verified = verify();
  BOOST_TEST(verified.intact, verified.reason);
  BOOST_TEST(verified.pruned_through == 8U);
}

BOOST_FIXTURE_TEST_CASE(removing_beyond_the_declared_horizon_is_refused, retention_fixture) {
  add(10);
  clock.advance(100s);
  add(4);  // checkpoint at 12 at t0+100
  BOOST_TEST(prune(1700000001).through == 8U);
  BOOST_TEST(storage::remove_audit_entries_through(*db, ring, 12).value() == 4U);  // 9..12, declared by nobody
  const auto verified = verify();
  BOOST_TEST(!verified.intact);
  BOOST_TEST(verified.reason.find("no signed audit.prune entry declares more than seq 8") != std::string::npos,
             verified.reason);
}

BOOST_FIXTURE_TEST_CASE(a_head_without_its_anchor_or_not_matching_it_is_refused, retention_fixture) {
  add(10);
  clock.advance(100s);
  BOOST_TEST(prune(1700000001).through == 8U);
  {
    // The anchor removed: nothing vouches for entry 9's prev_hash.
    storage::write_op drop{storage::write_op::kind::remove, storage::column_family::audit_checkpoints,
                           storage::audit_key(8), {}};
    auto saved = db->get(storage::column_family::audit_checkpoints, storage::audit_key(8)).value();
    BOOST_REQUIRE(db->write(std::span(&drop, 1)));
    const auto verified = verify();
    BOOST_TEST(!verified.intact);
    BOOST_TEST(verified.reason.find("no signed checkpoint at seq 8 anchors entry 9") != std::string::npos,
               verified.reason);
    BOOST_REQUIRE(db->put(storage::column_family::audit_checkpoints, storage::audit_key(8), *saved));
    BOOST_TEST(verify().intact);
  }
  // Entry 9 edited: its prev_hash no longer matches the anchor's hash.
  auto stored = db->get(storage::column_family::audit, storage::audit_key(9)).value();
  BOOST_REQUIRE(stored.has_value());
  auto at = stored->find("\"prev_hash\":\"");
  BOOST_REQUIRE(at != std::string::npos);
  auto& digit = (*stored)[at + 13];
  digit = digit == '0' ? '1' : '0';
  BOOST_REQUIRE(db->put(storage::column_family::audit, storage::audit_key(9), *stored));
  const auto verified = verify();
  BOOST_TEST(!verified.intact);
  BOOST_TEST(verified.first_bad_seq == 9U);
  BOOST_TEST(verified.reason.find("anchors the pruned journal") != std::string::npos, verified.reason);
}

BOOST_AUTO_TEST_CASE(a_declaration_copied_from_another_node_declares_nothing) {
  // The nodes of a cluster share one key ring, so node A's declaration carries a valid signature;
  // it names A's checkpoint hash, not B's, so B's head removed under it is still caught.
  test::node_journal a("node-a");
  test::node_journal b("node-b");
  a.add_entries(10);
  b.add_entries(10);
  a.clock.advance(100s);
  auto pruned =
      storage::prune_audit_journal(*a.db, *a.writer, a.ring, 1700000001, a.clock.unix_seconds(), operator_cli);
  BOOST_REQUIRE(pruned);
  BOOST_REQUIRE(pruned->through == 8U);
  auto declaration = storage::audit_journal(*a.db).at(pruned->prune_entry).value();
  BOOST_REQUIRE(declaration.has_value());
  BOOST_REQUIRE(b.writer->commit(test::change_with(test::draft_of(*declaration))));
  BOOST_TEST(storage::remove_audit_entries_through(*b.db, b.ring, 8).value() == 8U);
  const auto verified = storage::audit_journal(*b.db).verify(b.ring).value();
  BOOST_TEST(!verified.intact);
  BOOST_TEST(verified.reason.find("no signed audit.prune entry declares a pruning") != std::string::npos,
             verified.reason);
  BOOST_TEST(storage::audit_journal(*a.db).verify(a.ring).value().intact);
}

BOOST_AUTO_TEST_CASE(links_into_a_pruned_journal_are_checked_at_the_anchor_and_counted_below_it) {
  test::node_journal a("node-a");
  test::node_journal b("node-b");
  b.add_entries(4);  // checkpoint at 4
  const auto early = b.head_link();  // seq 4: becomes the anchor
  b.add_entries(1);
  a.link({early});
  b.add_entries(4);  // checkpoint at 8
  b.clock.advance(100s);
  auto pruned =
      storage::prune_audit_journal(*b.db, *b.writer, b.ring, 1700000001, b.clock.unix_seconds(), operator_cli);
  BOOST_REQUIRE(pruned);
  BOOST_TEST(pruned->through == 8U);

  // A link to seq 4 now names a pruned entry below the anchor (8): counted, not checked.
  std::vector<storage::audit_journal> journals;
  journals.emplace_back(*a.db);
  journals.emplace_back(*b.db);
  std::vector<storage::audit_journal_source> sources{{"a", &journals[0]}, {"b", &journals[1]}};
  auto report = storage::verify_audit_links(sources);
  BOOST_REQUIRE(report);
  BOOST_TEST(report->intact());
  BOOST_TEST(report->links_pruned == 1U);
  BOOST_TEST(report->links_checked == 0U);

  // A link to the anchor itself is checked against the anchor checkpoint's hash.
  auto anchor = storage::audit_journal(*b.db).checkpoint_at(8).value();
  BOOST_REQUIRE(anchor.has_value());
  a.link({storage::audit_link{"node-b", 8, anchor->entry_hash}});
  report = storage::verify_audit_links(sources);
  BOOST_REQUIRE(report);
  BOOST_TEST(report->intact());
  BOOST_TEST(report->links_checked == 1U);
  auto wrong = anchor->entry_hash;
  wrong[0] ^= 1;
  a.link({storage::audit_link{"node-b", 8, wrong}});
  report = storage::verify_audit_links(sources);
  BOOST_REQUIRE(report);
  BOOST_TEST(!report->intact());
  BOOST_REQUIRE(report->broken.size() == 1U);
  BOOST_TEST(report->broken[0].reason.find("anchor checkpoint does not hold the linked hash") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
