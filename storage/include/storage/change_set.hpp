// One atomic change: key writes plus audit entries, committed together in one RocksDB
// WriteBatch by the group-commit writer. Builders of a change never see RocksDB types.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "crypto/result.hpp"
#include "storage/column_family.hpp"

namespace callsign::storage {

struct write_op {
  // merge: combined with the stored value by the column family's merge operator
  // (replay_marks keep the highest step, counters the newest window state), so changes that
  // reach disk out of order never move state backwards.
  // remove_range: every key from `key` up to, not including, `value` (one range tombstone;
  // audit retention's, written straight to the database, never through the writer).
  enum class kind { put, remove, merge, remove_range };
  kind op = kind::put;
  column_family family = column_family::default_cf;
  std::string key;
  std::string value;
};

// Key order within each family: the order the group-commit writer hands RocksDB a group in, so
// each memtable insert starts from where the previous key went in (index keys are scattered
// otherwise). Stable, so two writes to one key keep their order.
inline void sort_by_family_and_key(std::vector<write_op>& ops) {
  std::stable_sort(ops.begin(), ops.end(), [](const write_op& a, const write_op& b) {
    return a.family != b.family ? a.family < b.family : a.key < b.key;
  });
}

// An audit entry before the journal gives it a sequence number and chains it.
// Never put codes, secrets, tokens, passwords or keys in any field.
struct audit_draft {
  std::int64_t time = 0;        // unix seconds
  std::string actor_type;       // "customer", "agent", "service", "admin", "system"
  std::string actor_id;
  std::string action;           // e.g. "verify", "user.upsert", "authenticator.enroll"
  std::string subject;          // the user the action concerns; may be empty
  std::string outcome;          // e.g. "valid", "invalid", "throttled", "ok"
  std::string source_ip;
  std::string request_id;
  std::vector<std::pair<std::string, std::string>> details;  // small, non-secret facts (method, ticket)
  // False when `subject` names no stored user (a verify of an unknown id): the entry is journaled
  // and indexed under it as any other, but not shared as that user's entry with other nodes
  // (group_commit_writer's durable entries carry no subject), so made-up ids cannot create
  // per-user state elsewhere.
  bool subject_exists = true;
};

// Marks `audit` as an attempt the backend could not settle: outcome "failed" and detail `error`,
// "unavailable" (Redis away, a missed WAIT, a disk error) or "internal", never the message. A
// shared backend may already hold what the attempt changed, so the attempt leaves this trace.
inline void mark_failed_attempt(audit_draft& audit, const error& e) {
  audit.outcome = "failed";
  const bool unavailable = e.kind == error_kind::unavailable || e.kind == error_kind::storage_failed;
  audit.details.emplace_back("error", unavailable ? "unavailable" : "internal");
}

// Not thread-safe: built by one request, then handed to the writer.
struct change_set {
  std::vector<write_op> ops;
  std::vector<audit_draft> audit;

  void put(column_family cf, std::string key, std::string value) {
    ops.push_back({write_op::kind::put, cf, std::move(key), std::move(value)});
  }
  void merge(column_family cf, std::string key, std::string value) {
    ops.push_back({write_op::kind::merge, cf, std::move(key), std::move(value)});
  }
  void remove(column_family cf, std::string key) {
    ops.push_back({write_op::kind::remove, cf, std::move(key), {}});
  }
  void add_audit(audit_draft entry) { audit.push_back(std::move(entry)); }
  bool empty() const noexcept { return ops.empty() && audit.empty(); }
};

// What a commit reports back: the sequence numbers given to the change's audit entries.
struct commit_receipt {
  std::vector<std::uint64_t> audit_sequences;
};

// A snapshot of a commit sink's counters (GET /metrics shows them).
struct group_commit_stats {
  std::uint64_t groups_written = 0;   // synced WriteBatches holding requests
  std::uint64_t items_written = 0;    // change_sets committed
  std::uint64_t entries_written = 0;  // audit entries committed
  std::uint64_t checkpoints_written = 0;
  std::uint64_t groups_failed = 0;
  std::uint64_t state_folds = 0;        // unsynced batches folding the state log into its families
  std::uint64_t state_folds_failed = 0;  // retried with the next fold; the log keeps the changes
  bool writes_failing = false;  // the last group's write failed and none has succeeded since (/readyz)
};

// Where durable change sets go. The group-commit writer is the embedded implementation.
// Thread-safety: submit and stats may be called from any thread; `done` runs on the sink's own
// thread.
class commit_sink {
 public:
  virtual ~commit_sink() = default;
  virtual void submit(change_set changes, std::function<void(result<commit_receipt>)> done) = 0;
  virtual group_commit_stats stats() const noexcept = 0;
};

}  // namespace callsign::storage
