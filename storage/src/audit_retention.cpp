#include "storage/audit_retention.hpp"

#include <deque>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "crypto/hex.hpp"
#include "crypto/sha256.hpp"
#include "storage/audit_journal.hpp"
#include "storage/audit_links.hpp"

namespace callsign::storage {
namespace {

// Candidates the horizon search keeps (the newest ones whose unsigned time is before the cutoff).
constexpr std::size_t horizon_candidates = 64;

error does_not_verify(std::uint64_t seq, std::string_view why) {
  return make_error(error_kind::internal, "the audit journal does not verify at seq " + std::to_string(seq) + " (" +
                                              std::string(why) + "); nothing from there on was pruned; run "
                                              "'callsign audit verify'");
}

// Checks checkpoints against the ring: public keys derived once per version.
class checkpoint_checker {
 public:
  explicit checkpoint_checker(const crypto::key_ring& ring) : ring_(ring) {}

  bool signed_by_ring(const audit_checkpoint& c) {
    auto it = keys_.find(c.key_version);
    if (it == keys_.end()) {
      std::optional<crypto::ed25519_public_key> key;
      if (const crypto::master_key* master = ring_.find(c.key_version)) {
        if (auto signing = audit_checkpoint_key(*master)) key = signing->public_key();
      }
      it = keys_.emplace(c.key_version, key).first;
    }
    return it->second && audit_checkpoint_signature_valid(c, *it->second);
  }

 private:
  const crypto::key_ring& ring_;
  std::map<std::uint32_t, std::optional<crypto::ed25519_public_key>> keys_;
};

result<std::optional<audit_checkpoint>> stored_checkpoint(const database& db, std::uint64_t seq) {
  auto stored = db.get(column_family::audit_checkpoints, audit_key(seq));
  if (!stored) return stored.error();
  if (!stored->has_value()) return std::optional<audit_checkpoint>{};
  auto checkpoint = decode_audit_checkpoint(**stored);
  if (!checkpoint) return does_not_verify(seq, "its checkpoint does not parse");
  return std::optional<audit_checkpoint>(*checkpoint);
}

// Entry c.seq as stored, when `c` holds: signed under the ring, and the entry's bytes hash to
// its entry_hash. The entry's time is then covered by a signature; the checkpoint's is not.
result<audit_entry> checked_entry_of(const database& db, checkpoint_checker& checker, const audit_checkpoint& c) {
  if (!checker.signed_by_ring(c)) return does_not_verify(c.seq, "its checkpoint's signature does not verify");
  auto stored = db.get(column_family::audit, audit_key(c.seq));
  if (!stored) return stored.error();
  if (!stored->has_value()) return does_not_verify(c.seq, "the entry its checkpoint names is missing");
  if (crypto::sha256(**stored) != c.entry_hash) return does_not_verify(c.seq, "the entry does not match its checkpoint");
  auto entry = decode_audit_entry(**stored);
  if (!entry) return does_not_verify(c.seq, "the entry does not parse");
  return std::move(*entry);
}

// One stretch (from, boundary] of the chain, checked as verify() checks it (each prev_hash, the
// boundary's checkpoint), and its removal staged: a range tombstone for the entries, so a scan
// from the start does not step over each removed key, and a delete per index row. `prev` is the
// hash the first entry must name; it becomes the boundary entry's hash.
result<void> stage_checked_stretch(const database& db, checkpoint_checker& checker, std::uint64_t from,
                                   std::uint64_t boundary, audit_hash& prev, std::vector<write_op>& ops) {
  std::optional<error> failure;
  std::uint64_t expected = from;
  auto scanned = db.scan(column_family::audit, database::scan_direction::forward, audit_key(from),
                         [&](std::string_view key, std::string_view value) {
                           const auto seq = parse_audit_key(key);
                           if (!seq || *seq != expected) {
                             failure = does_not_verify(expected, "an entry is missing");
                             return false;
                           }
                           auto entry = decode_audit_entry(value);
                           if (!entry) {
                             failure = does_not_verify(*seq, "the entry does not parse");
                             return false;
                           }
                           if (entry->seq != *seq || entry->prev_hash != crypto::hex_encode(prev)) {
                             failure = does_not_verify(*seq, "the entry does not chain to the one before it");
                             return false;
                           }
                           prev = crypto::sha256(value);
                           if (!entry->subject.empty()) {
                             ops.push_back({write_op::kind::remove, column_family::audit_by_user,
                                            audit_subject_key(entry->subject, *seq), {}});
                           }
                           ++expected;
                           return *seq < boundary;
                         });
  if (!scanned) return scanned.error();
  if (failure) return *failure;
  if (expected != boundary + 1) return does_not_verify(expected, "an entry is missing");
  auto checkpoint = stored_checkpoint(db, boundary);
  if (!checkpoint) return checkpoint.error();
  if (!*checkpoint || !checker.signed_by_ring(**checkpoint) || (*checkpoint)->entry_hash != prev) {
    return does_not_verify(boundary, "its checkpoint does not hold the entry's hash under the ring");
  }
  ops.push_back({write_op::kind::remove_range, column_family::audit, audit_key(from), audit_key(boundary + 1)});
  return {};
}

// The seqs of the stored checkpoints up to `through`, ascending.
result<std::vector<std::uint64_t>> checkpoints_through(const database& db, std::uint64_t through) {
  std::vector<std::uint64_t> seqs;
  std::optional<error> failure;
  auto scanned = db.scan(column_family::audit_checkpoints, database::scan_direction::forward, {},
                         [&](std::string_view key, std::string_view) {
                           const auto seq = parse_audit_key(key);
                           if (!seq) {
                             failure = make_error(error_kind::internal, "an audit checkpoint key is malformed");
                             return false;
                           }
                           if (*seq > through) return false;
                           seqs.push_back(*seq);
                           return true;
                         });
  if (!scanned) return scanned.error();
  if (failure) return *failure;
  return seqs;
}

// True when every entry from `from` through `to` is housekeeping: an audit.prune entry, or an
// audit.link the checkpoint exchange wrote (several nodes). An idle journal whose last prune is
// now old enough has nothing else to remove, and pruning it would only add another entry, which
// other nodes would link, whose retention would prune the link, and so on, forever.
result<bool> only_housekeeping_entries(const database& db, std::uint64_t from, std::uint64_t to) {
  bool only = true;
  auto scanned = db.scan(column_family::audit, database::scan_direction::forward, audit_key(from),
                         [&](std::string_view key, std::string_view value) {
                           const auto seq = parse_audit_key(key);
                           if (!seq || *seq > to) return false;
                           auto entry = decode_audit_entry(value);
                           only = entry && (entry->action == audit_prune_action ||
                                            entry->action == audit_link_action);
                           return only;
                         });
  if (!scanned) return scanned.error();
  return only;
}

}  // namespace

std::vector<std::uint8_t> audit_prune_message(std::uint64_t through, const audit_hash& entry_hash) {
  return audit_signed_message(audit_prune_domain, through, entry_hash);
}

result<audit_draft> audit_prune_draft(const crypto::key_ring& ring, const audit_checkpoint& anchor,
                                      std::uint64_t entries, std::int64_t cutoff, std::int64_t now,
                                      const audit_prune_actor& actor) {
  auto key = audit_checkpoint_key(ring.current());
  if (!key) return key.error();
  auto signature = key->sign(audit_prune_message(anchor.seq, anchor.entry_hash));
  if (!signature) return signature.error();
  audit_draft draft;
  draft.time = now;
  draft.actor_type = actor.type;
  draft.actor_id = actor.id;
  draft.action = std::string(audit_prune_action);
  draft.outcome = "ok";
  draft.details = {{std::string(audit_prune_through_detail), std::to_string(anchor.seq)},
                   {"entry_hash", crypto::hex_encode(anchor.entry_hash)},
                   {"cutoff", std::to_string(cutoff)},
                   {"entries", std::to_string(entries)},
                   {"key_version", std::to_string(ring.current().version)},
                   {"signature", crypto::hex_encode(*signature)}};
  return draft;
}

result<std::optional<audit_checkpoint>> audit_prune_horizon(const database& db, const crypto::key_ring& ring,
                                                            std::int64_t cutoff) {
  auto first = audit_journal(db).first_sequence();
  if (!first) return first.error();
  if (*first == 0) return std::optional<audit_checkpoint>{};
  // Oldest first from the first entry on: a checkpoint's own time is not signed, so it only
  // picks the candidates; the scan stops at the first one signed at or after the cutoff.
  std::deque<audit_checkpoint> candidates;
  std::optional<error> failure;
  auto scanned = db.scan(column_family::audit_checkpoints, database::scan_direction::forward, audit_key(*first),
                         [&](std::string_view, std::string_view value) {
                           auto checkpoint = decode_audit_checkpoint(value);
                           if (!checkpoint) {
                             failure = make_error(error_kind::internal, "an audit checkpoint does not parse; run "
                                                                       "'callsign audit verify'");
                             return false;
                           }
                           if (checkpoint->time >= cutoff) return false;
                           candidates.push_back(*checkpoint);
                           if (candidates.size() > horizon_candidates) candidates.pop_front();
                           return true;
                         });
  if (!scanned) return scanned.error();
  if (failure) return *failure;
  // Newest candidate first: the horizon is the one whose entry, which its signature covers, was
  // written before the cutoff. A candidate that does not verify stops the prune.
  checkpoint_checker checker(ring);
  for (auto it = candidates.rbegin(); it != candidates.rend(); ++it) {
    auto entry = checked_entry_of(db, checker, *it);
    if (!entry) return entry.error();
    if (entry->time < cutoff) return std::optional<audit_checkpoint>(*it);
  }
  return std::optional<audit_checkpoint>{};
}

namespace {

// Walks the stretches from the first entry through `through`, checking each; with `write`,
// removes each as it goes (else only checks: the dry run before a prune is declared).
result<std::uint64_t> walk_stretches(database& db, const crypto::key_ring& ring, std::uint64_t through,
                                     const std::function<bool()>& should_stop, bool write) {
  auto first = audit_journal(db).first_sequence();
  if (!first) return first.error();
  if (*first == 0 || *first > through) return std::uint64_t{0};  // already pruned through it
  auto checkpoints = checkpoints_through(db, through);
  if (!checkpoints) return checkpoints.error();

  // The hash the first entry names: zeros for entry 1, else the current anchor's, checked.
  checkpoint_checker checker(ring);
  audit_hash prev{};
  if (*first > 1) {
    auto current = stored_checkpoint(db, *first - 1);
    if (!current) return current.error();
    if (!*current || !checker.signed_by_ring(**current)) {
      return does_not_verify(*first - 1, "the checkpoint anchoring the first entry does not verify");
    }
    prev = (*current)->entry_hash;
  }
  std::uint64_t start = *first;
  std::uint64_t removed = 0;
  std::size_t below = 0;  // checkpoints before this index are removed already
  for (std::size_t i = 0; i < checkpoints->size(); ++i) {
    const std::uint64_t boundary = (*checkpoints)[i];
    if (boundary < start) continue;  // the current anchor, or older: removed with the next stretch
    if (should_stop && should_stop()) break;  // each stretch is atomic: the next run goes on
    std::vector<write_op> ops;
    if (auto staged = stage_checked_stretch(db, checker, start, boundary, prev, ops); !staged) return staged.error();
    for (; below < i; ++below) {
      ops.push_back({write_op::kind::remove, column_family::audit_checkpoints, audit_key((*checkpoints)[below]), {}});
    }
    if (write) {
      if (auto written = db.write_unsynced(ops); !written) return written.error();
    }
    removed += boundary - start + 1;
    start = boundary + 1;
  }
  return removed;
}

}  // namespace

result<std::uint64_t> remove_audit_entries_through(database& db, const crypto::key_ring& ring, std::uint64_t through,
                                                   const std::function<bool()>& should_stop) {
  auto anchor = db.get(column_family::audit_checkpoints, audit_key(through));
  if (!anchor) return anchor.error();
  if (!anchor->has_value()) {
    return make_error(error_kind::invalid_input, "no signed checkpoint at seq " + std::to_string(through));
  }
  auto next = db.get(column_family::audit, audit_key(through + 1));
  if (!next) return next.error();
  if (!next->has_value()) {
    return make_error(error_kind::invalid_input, "no entry follows seq " + std::to_string(through));
  }
  return walk_stretches(db, ring, through, should_stop, true);
}

result<audit_prune_report> prune_audit_journal(database& db, commit_sink& writer, const crypto::key_ring& ring,
                                               std::int64_t cutoff, std::int64_t now, const audit_prune_actor& actor,
                                               const std::function<bool()>& should_stop) {
  static std::mutex one_at_a_time;
  std::lock_guard lock(one_at_a_time);
  audit_prune_report report;
  auto horizon = audit_prune_horizon(db, ring, cutoff);
  if (!horizon) return horizon.error();
  auto first = audit_journal(db).first_sequence();
  if (!first) return first.error();
  report.first_seq = *first;
  if (!*horizon || *first == 0 || (*horizon)->seq < *first) return report;  // nothing was signed before the cutoff
  const audit_checkpoint& anchor = **horizon;
  auto idle = only_housekeeping_entries(db, *first, anchor.seq);
  if (!idle) return idle.error();
  if (*idle) return report;
  // Everything to remove is checked before the removal is declared: a journal that does not
  // verify is left as it is, with no entry added (a retention round would add one every time).
  if (auto checked = walk_stretches(db, ring, anchor.seq, should_stop, false); !checked) return checked.error();

  // Declared first, durable: a crash from here on leaves a head this entry accounts for.
  auto draft = audit_prune_draft(ring, anchor, anchor.seq - *first + 1, cutoff, now, actor);
  if (!draft) return draft.error();
  change_set change;
  change.add_audit(std::move(*draft));
  auto done = std::make_shared<std::promise<result<commit_receipt>>>();
  auto committed = done->get_future();
  writer.submit(std::move(change), [done](result<commit_receipt> receipt) { done->set_value(std::move(receipt)); });
  auto receipt = committed.get();
  if (!receipt) return receipt.error();
  report.prune_entry = receipt->audit_sequences.empty() ? 0 : receipt->audit_sequences.front();

  auto removed = remove_audit_entries_through(db, ring, anchor.seq, should_stop);
  if (!removed) return removed.error();
  report.through = anchor.seq;
  report.removed = *removed;
  auto left = audit_journal(db).first_sequence();
  if (!left) return left.error();
  report.first_seq = *left;
  // Give the space back now rather than whenever RocksDB next compacts those files.
  if (*removed > 0) {
    if (auto compacted = db.compact_range(column_family::audit, {}, audit_key(*left)); !compacted) {
      return compacted.error();
    }
  }
  return report;
}

}  // namespace callsign::storage
