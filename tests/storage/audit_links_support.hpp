// Two nodes' journals in temp data directories (db/ and master.key, as callsignd keeps them),
// written by real group-commit writers, and the tampering the cross-link tests undo them with.
#pragma once

#include <boost/test/unit_test.hpp>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "audit_test_support.hpp"
#include "crypto/hex.hpp"
#include "storage/audit_checkpoint.hpp"
#include "storage/audit_journal.hpp"
#include "storage/audit_links.hpp"
#include "storage/key_ring_file.hpp"

namespace callsign::test {

// One node's data directory with an open database and a writer carrying its node id.
struct node_journal {
  std::string node;
  temp_directory dir;
  crypto::key_ring ring = fixed_key_ring();
  storage::manual_clock clock{std::chrono::system_clock::time_point(std::chrono::seconds(1700000000))};
  std::unique_ptr<storage::database> db;
  std::unique_ptr<storage::group_commit_writer> writer;

  explicit node_journal(std::string id) : node(std::move(id)) {
    BOOST_REQUIRE(storage::save_key_ring(dir.path() / storage::key_ring_file_name, ring));
    auto opened = storage::database::open({dir.path() / "db", true});
    BOOST_REQUIRE(opened);
    db = std::move(opened).value();
    storage::group_commit_options options = checkpoints(4, 0);
    options.node_id = node;
    auto started = storage::group_commit_writer::start(*db, ring, clock, std::move(options));
    BOOST_REQUIRE_MESSAGE(started, (started ? std::string() : started.error().message));
    writer = std::move(started).value();
  }

  void add_entries(int count) {
    for (int i = 0; i < count; ++i) BOOST_REQUIRE(writer->commit(change_with(draft_for(i % 2 ? "alice" : "bob"))));
  }

  // This node's head as its signed checkpoint would name it.
  storage::audit_link head_link() const {
    auto head = storage::audit_journal(*db).chain_head();
    BOOST_REQUIRE(head);
    return {node, head->last_seq, head->last_hash};
  }

  // Commits an audit.link entry holding `links`; returns its seq.
  std::uint64_t link(const std::vector<storage::audit_link>& links) {
    storage::change_set change;
    change.add_audit(storage::audit_link_draft(clock.unix_seconds(), links));
    auto receipt = writer->commit(std::move(change));
    BOOST_REQUIRE(receipt);
    BOOST_REQUIRE(receipt->audit_sequences.size() == 1U);
    return receipt->audit_sequences[0];
  }

  // Stops the writer (final checkpoint) and closes the database, so the CLI may open it.
  void close() {
    writer.reset();
    db.reset();
  }
};

inline storage::audit_draft draft_of(const storage::audit_entry& e) {
  storage::audit_draft d;
  d.time = e.time;
  d.actor_type = e.actor_type;
  d.actor_id = e.actor_id;
  d.action = e.action;
  d.subject = e.subject;
  d.outcome = e.outcome;
  d.source_ip = e.source_ip;
  d.request_id = e.request_id;
  d.details = e.details;
  return d;
}

// What someone holding the database and the key ring can do: change entry `seq`'s outcome,
// re-chain every entry after it and re-sign every checkpoint from it on, so the journal alone
// verifies intact. Only a link held by another node still shows the change.
inline void rewrite_history(storage::database& db, const crypto::key_ring& ring, std::uint64_t seq) {
  const storage::audit_journal journal(db);
  auto head = journal.chain_head();
  BOOST_REQUIRE(head);
  storage::audit_hash prev{};
  if (seq > 1) {
    auto before = journal.at(seq - 1);
    BOOST_REQUIRE(before && before->has_value());
    BOOST_REQUIRE(crypto::hex_decode_into((*before)->hash, prev));
  }
  std::vector<storage::write_op> ops;
  std::map<std::uint64_t, storage::audit_hash> hashes;
  for (std::uint64_t s = seq; s <= head->last_seq; ++s) {
    auto entry = journal.at(s);
    BOOST_REQUIRE(entry && entry->has_value());
    storage::audit_draft draft = draft_of(**entry);
    if (s == seq) draft.outcome = draft.outcome == "invalid" ? "valid" : "invalid";
    prev = storage::append_audit_records(s, prev, draft, ops, (*entry)->node);
    hashes[s] = prev;
  }
  auto key = storage::audit_checkpoint_key(ring.current());
  BOOST_REQUIRE(key);
  BOOST_REQUIRE(db.scan(storage::column_family::audit_checkpoints, storage::database::scan_direction::forward,
                        storage::audit_key(seq), [&](std::string_view k, std::string_view) {
                          const auto at = storage::parse_audit_key(k);
                          BOOST_REQUIRE(at && hashes.count(*at) == 1);
                          auto signed_checkpoint = storage::sign_audit_checkpoint(*key, ring.current().version, *at,
                                                                                  hashes[*at], 1700000000);
                          BOOST_REQUIRE(signed_checkpoint);
                          ops.push_back({storage::write_op::kind::put, storage::column_family::audit_checkpoints,
                                         std::string(k), storage::encode_audit_checkpoint(*signed_checkpoint)});
                          return true;
                        }));
  BOOST_REQUIRE(db.write(ops));
}

}  // namespace callsign::test
