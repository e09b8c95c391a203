#include "storage/audit_retention.hpp"

#include <future>
#include <memory>
#include <mutex>
#include <vector>

#include "crypto/hex.hpp"
#include "storage/audit_journal.hpp"
#include "storage/audit_links.hpp"

namespace callsign::storage {
namespace {

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

// The removal of entries [from, to] (one range tombstone, so a scan from the start does not step
// over a removed key each) and of their index rows: the ops of one batch.
result<void> stage_entry_removals(const database& db, std::uint64_t from, std::uint64_t to,
                                  std::vector<write_op>& ops) {
  std::optional<error> failure;
  auto scanned = db.scan(column_family::audit, database::scan_direction::forward, audit_key(from),
                         [&](std::string_view key, std::string_view value) {
                           const auto seq = parse_audit_key(key);
                           if (!seq) {
                             failure = make_error(error_kind::internal, "an audit key is malformed");
                             return false;
                           }
                           if (*seq > to) return false;
                           auto entry = decode_audit_entry(value);
                           if (!entry) {
                             // Its index row cannot be found: a damaged journal is not pruned.
                             failure = make_error(error_kind::internal, "audit entry " + std::to_string(*seq) +
                                                                            " is damaged; run 'callsign audit verify'");
                             return false;
                           }
                           if (!entry->subject.empty()) {
                             ops.push_back({write_op::kind::remove, column_family::audit_by_user,
                                            audit_subject_key(entry->subject, *seq), {}});
                           }
                           return true;
                         });
  if (!scanned) return scanned.error();
  if (failure) return *failure;
  ops.push_back({write_op::kind::remove_range, column_family::audit, audit_key(from), audit_key(to + 1)});
  return {};
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

result<std::optional<audit_checkpoint>> audit_prune_horizon(const database& db, std::int64_t cutoff) {
  std::optional<audit_checkpoint> found;
  std::optional<error> failure;
  auto scanned = db.scan(column_family::audit_checkpoints, database::scan_direction::backward, {},
                         [&](std::string_view, std::string_view value) {
                           auto checkpoint = decode_audit_checkpoint(value);
                           if (!checkpoint) {
                             failure = make_error(error_kind::internal, "an audit checkpoint does not parse; run "
                                                                       "'callsign audit verify'");
                             return false;
                           }
                           if (checkpoint->time >= cutoff) return true;
                           found = *checkpoint;
                           return false;
                         });
  if (!scanned) return scanned.error();
  if (failure) return *failure;
  return found;
}

result<std::uint64_t> remove_audit_entries_through(database& db, std::uint64_t through) {
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
  auto first = audit_journal(db).first_sequence();
  if (!first) return first.error();
  if (*first == 0 || *first > through) return std::uint64_t{0};  // already pruned through it
  auto checkpoints = checkpoints_through(db, through);
  if (!checkpoints) return checkpoints.error();

  std::uint64_t start = *first;
  std::uint64_t removed = 0;
  std::size_t below = 0;  // checkpoints before this index are removed already
  for (std::size_t i = 0; i < checkpoints->size(); ++i) {
    const std::uint64_t boundary = (*checkpoints)[i];
    if (boundary < start) continue;  // the current anchor, or older: removed with the next stretch
    std::vector<write_op> ops;
    if (auto staged = stage_entry_removals(db, start, boundary, ops); !staged) return staged.error();
    for (; below < i; ++below) {
      ops.push_back({write_op::kind::remove, column_family::audit_checkpoints, audit_key((*checkpoints)[below]), {}});
    }
    if (auto written = db.write_unsynced(ops); !written) return written.error();
    removed += boundary - start + 1;
    start = boundary + 1;
  }
  return removed;
}

result<audit_prune_report> prune_audit_journal(database& db, commit_sink& writer, std::int64_t cutoff,
                                               std::int64_t now, const audit_prune_actor& actor) {
  static std::mutex one_at_a_time;
  std::lock_guard lock(one_at_a_time);
  audit_prune_report report;
  auto horizon = audit_prune_horizon(db, cutoff);
  if (!horizon) return horizon.error();
  auto first = audit_journal(db).first_sequence();
  if (!first) return first.error();
  if (!*horizon || *first == 0 || (*horizon)->seq < *first) {
    report.first_seq = *first;
    return report;  // nothing was signed before the cutoff, or it is pruned already
  }
  const audit_checkpoint& anchor = **horizon;
  auto idle = only_housekeeping_entries(db, *first, anchor.seq);
  if (!idle) return idle.error();
  if (*idle) {
    report.first_seq = *first;
    return report;
  }

  // Declared first, durable: a crash from here on leaves a head this entry accounts for.
  audit_draft draft;
  draft.time = now;
  draft.actor_type = actor.type;
  draft.actor_id = actor.id;
  draft.action = std::string(audit_prune_action);
  draft.outcome = "ok";
  draft.details = {{std::string(audit_prune_through_detail), std::to_string(anchor.seq)},
                   {"entry_hash", crypto::hex_encode(anchor.entry_hash)},
                   {"cutoff", std::to_string(cutoff)},
                   {"entries", std::to_string(anchor.seq - *first + 1)}};
  change_set change;
  change.add_audit(std::move(draft));
  auto done = std::make_shared<std::promise<result<commit_receipt>>>();
  auto committed = done->get_future();
  writer.submit(std::move(change), [done](result<commit_receipt> receipt) { done->set_value(std::move(receipt)); });
  auto receipt = committed.get();
  if (!receipt) return receipt.error();
  report.prune_entry = receipt->audit_sequences.empty() ? 0 : receipt->audit_sequences.front();

  auto removed = remove_audit_entries_through(db, anchor.seq);
  if (!removed) return removed.error();
  report.through = anchor.seq;
  report.removed = *removed;
  report.first_seq = anchor.seq + 1;
  return report;
}

}  // namespace callsign::storage
