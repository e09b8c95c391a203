// The group-commit writer's batches: how the preparing thread builds a group, a checkpoint or a
// state-log fold, and how the syncing thread writes them in order and completes the requests.
#include <algorithm>
#include <chrono>

#include "crypto/sha256.hpp"
#include "storage/audit_checkpoint.hpp"
#include "storage/group_commit_writer.hpp"

namespace callsign::storage {
namespace {

bool is_writer_family(column_family cf) {
  return cf == column_family::audit || cf == column_family::audit_by_user || cf == column_family::audit_checkpoints ||
         cf == column_family::state_log;
}

// Only the journal writes the audit families, which is what keeps them append-only; only the
// writer writes the state log.
result<void> validate_change(const change_set& change) {
  for (const write_op& op : change.ops) {
    if (is_writer_family(op.family)) {
      return make_error(error_kind::invalid_input, "a change may not write the audit column families directly");
    }
  }
  for (const audit_draft& draft : change.audit) {
    if (auto valid = validate_audit_draft(draft); !valid) return valid.error();
  }
  return {};
}

void complete(const group_commit_writer::completion& done, result<commit_receipt> outcome) {
  // A throwing completion must not take the syncing thread (and every later request) down.
  try {
    done(std::move(outcome));
  } catch (...) {  // NOLINT(bugprone-empty-catch): nothing useful to do on the syncing thread
  }
}

}  // namespace

result<void> group_commit_writer::add_checkpoint(std::vector<write_op>& ops, chain_state& head) const {
  const std::int64_t now = clock_.unix_seconds();
  auto checkpoint = sign_audit_checkpoint(key_, key_version_, head.last_seq, head.last_hash, now);
  if (!checkpoint) return checkpoint.error();
  ops.push_back({write_op::kind::put, column_family::audit_checkpoints, audit_key(head.last_seq),
                 encode_audit_checkpoint(*checkpoint)});
  head.checkpoint_seq = head.last_seq;
  head.checkpoint_time = now;
  return {};
}

group_commit_writer::prepared group_commit_writer::prepare_group(std::deque<pending> group) {
  prepared batch;
  batch.items = std::move(group);
  batch.rejected.resize(batch.items.size());
  batch.receipts.resize(batch.items.size());
  chain_state next = head_;
  std::vector<write_op> ops;
  std::vector<write_op> logged;  // replay marks and counters: one state_log record (state_log.hpp)
  std::optional<error> failure;

  for (std::size_t i = 0; i < batch.items.size() && !failure; ++i) {
    change_set& change = batch.items[i].change;
    if (auto valid = validate_change(change); !valid) {
      batch.rejected[i] = valid.error();
      continue;
    }
    for (write_op& op : change.ops) (is_logged_state_family(op.family) ? logged : ops).push_back(std::move(op));
    for (const audit_draft& draft : change.audit) {
      const std::uint64_t seq = next.last_seq + 1;
      std::string value = encode_audit_entry(seq, next.last_hash, draft);
      next.last_hash = crypto::sha256(value);
      next.last_seq = seq;
      ops.push_back({write_op::kind::put, column_family::audit, audit_key(seq), std::move(value)});
      if (!draft.subject.empty()) {
        ops.push_back({write_op::kind::put, column_family::audit_by_user, audit_subject_key(draft.subject, seq), {}});
      }
      batch.receipts[i].audit_sequences.push_back(seq);
      ++batch.entries;
      if (options_.checkpoint_every > 0 && seq - next.checkpoint_seq >= options_.checkpoint_every) {
        if (auto added = add_checkpoint(ops, next); !added) {
          failure = added.error();
          break;
        }
        ++batch.checkpoints;
      }
    }
  }
  if (!failure && checkpoint_due_by_time(next)) {
    if (auto added = add_checkpoint(ops, next); added) {
      ++batch.checkpoints;
    } else {
      failure = added.error();
    }
  }
  if (failure) {
    batch.failure = std::move(failure);  // nothing is written; head_ stays where it was
    return batch;
  }
  if (!logged.empty()) {
    ops.push_back({write_op::kind::put, column_family::state_log, state_log_key(log_next_),
                   encode_state_log_record(logged)});
    if (fold_.empty()) fold_since_ = std::chrono::steady_clock::now();
    for (const write_op& op : logged) fold_.add(op);
    ++log_next_;
  }
  // Key order within each family: RocksDB's memtable insert then starts from where the
  // previous key went in instead of searching from the top (index keys are random otherwise).
  // Stable, so two writes to one key keep their order.
  std::stable_sort(ops.begin(), ops.end(), [](const write_op& a, const write_op& b) {
    return a.family != b.family ? a.family < b.family : a.key < b.key;
  });
  batch.ops = std::move(ops);
  head_ = next;
  return batch;
}

group_commit_writer::prepared group_commit_writer::prepare_checkpoint_only() {
  prepared batch;
  batch.what = prepared::kind::checkpoint;
  chain_state next = head_;
  if (auto added = add_checkpoint(batch.ops, next); !added) {
    batch.failure = added.error();
    return batch;
  }
  head_ = next;
  return batch;
}

group_commit_writer::prepared group_commit_writer::prepare_fold(bool sync) {
  prepared batch;
  batch.what = prepared::kind::fold;
  batch.sync = sync;
  batch.ops = fold_.take();
  for (std::uint64_t n = fold_first_; n < log_next_; ++n) {
    batch.ops.push_back({write_op::kind::remove, column_family::state_log, state_log_key(n), {}});
  }
  fold_first_ = log_next_;
  return batch;
}

void group_commit_writer::hand_over(prepared batch) {
  {
    std::unique_lock lock(sync_mutex_);
    sync_space_.wait(lock, [this] { return prepared_.size() < max_prepared; });
    prepared_.push_back(std::move(batch));
  }
  sync_wake_.notify_one();
}

void group_commit_writer::sync_run() {
  for (;;) {
    prepared batch;
    bool doomed = false;
    {
      std::unique_lock lock(sync_mutex_);
      sync_wake_.wait(lock, [this] { return !prepared_.empty() || sync_stopping_; });
      if (prepared_.empty()) break;
      batch = std::move(prepared_.front());
      prepared_.pop_front();
      sync_busy_ = true;
      doomed = broken_;  // prepared on top of a batch whose write failed
    }
    sync_space_.notify_all();
    result<void> written;
    if (batch.failure) {
      written = *batch.failure;
    } else if (doomed) {
      written = make_error(error_kind::unavailable, "storage write failed");
    } else if (!batch.ops.empty()) {
      if (options_.fault_injector && batch.what != prepared::kind::fold) written = options_.fault_injector();
      if (written) written = batch.sync ? db_.write(batch.ops) : db_.write_unsynced(batch.ops);
    }
    if (!written && !batch.failure) {
      const std::lock_guard lock(sync_mutex_);
      broken_ = true;  // later batches were chained on this one: fail them, then recover()
    }
    finish(batch, written);
    {
      const std::lock_guard lock(sync_mutex_);
      sync_busy_ = false;
    }
    sync_space_.notify_all();
  }
}

void group_commit_writer::finish(prepared& batch, const result<void>& written) {
  switch (batch.what) {
    case prepared::kind::fold:
      (written ? state_folds_ : state_folds_failed_).fetch_add(1, std::memory_order_relaxed);
      return;
    case prepared::kind::checkpoint:
      (written ? checkpoints_written_ : groups_failed_).fetch_add(1, std::memory_order_relaxed);
      return;
    case prepared::kind::group:
      break;
  }
  if (!written) {
    groups_failed_.fetch_add(1, std::memory_order_relaxed);
    for (auto& item : batch.items) complete(item.done, written.error());
    return;
  }
  if (!batch.ops.empty()) groups_written_.fetch_add(1, std::memory_order_relaxed);
  std::uint64_t committed = 0;
  for (const auto& r : batch.rejected) committed += r ? 0U : 1U;
  items_written_.fetch_add(committed, std::memory_order_relaxed);
  entries_written_.fetch_add(batch.entries, std::memory_order_relaxed);
  checkpoints_written_.fetch_add(batch.checkpoints, std::memory_order_relaxed);
  for (std::size_t i = 0; i < batch.items.size(); ++i) {
    if (batch.rejected[i]) {
      complete(batch.items[i].done, *batch.rejected[i]);
    } else {
      complete(batch.items[i].done, std::move(batch.receipts[i]));
    }
  }
}

}  // namespace callsign::storage
