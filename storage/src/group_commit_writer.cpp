#include "storage/group_commit_writer.hpp"

#include <pthread.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <future>
#include <optional>
#include <utility>
#include <vector>

#include "storage/audit_checkpoint.hpp"
#include "storage/audit_journal.hpp"

namespace callsign::storage {
namespace {

bool is_writer_family(column_family cf) {
  return cf == column_family::audit || cf == column_family::audit_by_user || cf == column_family::audit_checkpoints ||
         cf == column_family::state_log;
}

// Only the journal writes the audit families, which is what keeps them append-only; only the
// writer appends to the state log (and its folder deletes what it folded).
result<void> validate_change(const change_set& change) {
  for (const write_op& op : change.ops) {
    if (is_writer_family(op.family)) {
      return make_error(error_kind::invalid_input,
                        "a change may not write the audit or state-log column families directly");
    }
    if (op.op == write_op::kind::remove_range) {  // audit retention's alone, straight to the database
      return make_error(error_kind::invalid_input, "a change may not remove a key range");
    }
  }
  for (const audit_draft& draft : change.audit) {
    if (auto valid = validate_audit_draft(draft); !valid) return valid.error();
  }
  return {};
}

// The number after the last record in the state log (1 when empty: database::open replays it).
result<std::uint64_t> next_state_log_number(database& db) {
  std::uint64_t next = 1;
  auto scanned = db.scan(column_family::state_log, database::scan_direction::backward, {},
                         [&](std::string_view key, std::string_view) {
                           if (auto number = parse_state_log_key(key)) next = *number + 1;
                           return false;
                         });
  if (!scanned) return scanned.error();
  return next;
}

// sort_by_family_and_key's order (family, key; equal keys in their order), found by sorting
// indices: a group holds hundreds of ops, and moving each op once beats a stable sort moving
// them through a merge buffer.
void sort_group(std::vector<write_op>& ops) {
  std::vector<std::uint32_t> order(ops.size());
  for (std::uint32_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&ops](std::uint32_t a, std::uint32_t b) {
    const write_op& x = ops[a];
    const write_op& y = ops[b];
    if (x.family != y.family) return x.family < y.family;
    if (const int c = x.key.compare(y.key); c != 0) return c < 0;
    return a < b;
  });
  std::vector<write_op> sorted;
  sorted.reserve(ops.size());
  for (const std::uint32_t i : order) sorted.push_back(std::move(ops[i]));
  ops.swap(sorted);
}

void complete(const group_commit_writer::completion& done, result<commit_receipt> outcome) {
  // A throwing completion must not take the writer thread (and every later request) down.
  try {
    done(std::move(outcome));
  } catch (...) {  // NOLINT(bugprone-empty-catch): nothing useful to do on the writer thread
  }
}

}  // namespace

result<std::unique_ptr<group_commit_writer>> group_commit_writer::start(database& db, const crypto::key_ring& ring,
                                                                        const clock& clk,
                                                                        group_commit_options options) {
  if (!options.node_id.empty() && !valid_audit_node_id(options.node_id)) {
    return make_error(error_kind::invalid_input, "audit node id must be 1 to 64 characters from a-z 0-9 . _ -");
  }
  auto head = audit_journal(db).chain_head();
  if (!head) return head.error();
  if (head->checkpoint_seq > head->last_seq) {
    return make_error(error_kind::internal, "audit journal: the latest checkpoint (seq " +
                                                std::to_string(head->checkpoint_seq) +
                                                ") is beyond the last entry (seq " + std::to_string(head->last_seq) +
                                                "), so its tail was removed; run 'callsign audit verify'");
  }
  auto key = audit_checkpoint_key(ring.current());
  if (!key) return key.error();
  if (options.max_group_items == 0) options.max_group_items = 1;
  if (options.fold_max_keys == 0) options.fold_max_keys = 1;
  auto log_next = next_state_log_number(db);
  if (!log_next) return log_next.error();
  chain_state state{head->last_seq, head->last_hash, head->checkpoint_seq,
                    head->checkpoint_time.value_or(clk.unix_seconds())};
  std::unique_ptr<group_commit_writer> writer(
      new group_commit_writer(db, clk, std::move(options), std::move(key).value(), ring.current().version, state));
  writer->log_next_ = *log_next;
  writer->folder_ = std::make_unique<state_log_folder>(
      db, *log_next, state_log_folder_options{writer->options_.fold_max_keys, writer->options_.fold_interval_ms, {}});
  writer->thread_ = std::thread([w = writer.get()] { w->run(); });
  return writer;
}

group_commit_writer::group_commit_writer(database& db, const clock& clk, group_commit_options options,
                                         crypto::ed25519_signing_key key, std::uint32_t key_version, chain_state head)
    : db_(db),
      clock_(clk),
      options_(std::move(options)),
      key_(std::move(key)),
      key_version_(key_version),
      head_(head) {}

group_commit_writer::~group_commit_writer() {
  stop();
}

void group_commit_writer::submit(change_set change, completion done) {
  {
    const std::lock_guard lock(mutex_);
    if (!stopping_) {
      queue_.push_back({std::move(change), std::move(done)});
      wake_.notify_one();
      return;
    }
  }
  complete(done, make_error(error_kind::unavailable, "the storage writer is stopped"));
}

result<commit_receipt> group_commit_writer::commit(change_set change) {
  // Shared, so the writer thread may still be inside set_value() when this caller returns.
  auto promise = std::make_shared<std::promise<result<commit_receipt>>>();
  auto future = promise->get_future();
  submit(std::move(change), [promise](result<commit_receipt> outcome) { promise->set_value(std::move(outcome)); });
  return future.get();
}

void group_commit_writer::stop() {
  const std::lock_guard stop_lock(stop_mutex_);
  {
    const std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (folder_) folder_->stop();  // after the writer: it folds the last groups' records too
}

group_commit_stats group_commit_writer::stats() const noexcept {
  return {groups_written_.load(std::memory_order_relaxed), items_written_.load(std::memory_order_relaxed),
          entries_written_.load(std::memory_order_relaxed), checkpoints_written_.load(std::memory_order_relaxed),
          groups_failed_.load(std::memory_order_relaxed),  folder_ ? folder_->folds() : 0,
          folder_ ? folder_->folds_failed() : 0,           writes_failing_.load(std::memory_order_relaxed)};
}

void group_commit_writer::run() {
  // Tells the writer apart in top -H, perf and /proc/PID/task (tools/bench/verify prints it).
  pthread_setname_np(pthread_self(), "callsign-writer");
  for (;;) {
    std::deque<pending> group;
    {
      std::unique_lock lock(mutex_);
      const auto ready = [this] { return stopping_ || !queue_.empty(); };
      if (options_.checkpoint_interval_seconds > 0 && head_.last_seq > head_.checkpoint_seq) {
        // Entries await a checkpoint: wake now and then to sign one when the interval passes.
        wake_.wait_for(lock, std::chrono::seconds(1), ready);
      } else {
        wake_.wait(lock, ready);
      }
      if (queue_.size() <= options_.max_group_items) {
        group.swap(queue_);
      } else {
        for (std::size_t i = 0; i < options_.max_group_items; ++i) {
          group.push_back(std::move(queue_.front()));
          queue_.pop_front();
        }
      }
      if (group.empty() && stopping_) break;
    }
    if (!group.empty()) {
      write_group(group);
    } else if (checkpoint_due_by_time(head_)) {
      write_checkpoint_only();
    }
  }
  if (head_.last_seq > head_.checkpoint_seq) write_checkpoint_only();
}

bool group_commit_writer::checkpoint_due_by_time(const chain_state& head) const {
  return options_.checkpoint_interval_seconds > 0 && head.last_seq > head.checkpoint_seq &&
         clock_.unix_seconds() - head.checkpoint_time >= options_.checkpoint_interval_seconds;
}

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

void group_commit_writer::write_group(std::deque<pending>& group) {
  chain_state next = head_;
  std::vector<write_op> ops;
  ops.reserve(2 * group.size() + 2);  // a verify: its entry and its index key
  std::vector<write_op> logged;  // replay marks and counters: one state_log record (state_log.hpp)
  std::vector<std::optional<error>> rejected(group.size());
  std::vector<commit_receipt> receipts(group.size());
  std::uint64_t entries = 0;
  std::uint64_t checkpoints = 0;
  std::optional<error> failure;
  std::vector<durable_audit_entry> durable;  // only when options_.on_durable is set

  for (std::size_t i = 0; i < group.size() && !failure; ++i) {
    change_set& change = group[i].change;
    if (auto valid = validate_change(change); !valid) {
      rejected[i] = valid.error();
      continue;
    }
    for (write_op& op : change.ops) (is_logged_state_family(op.family) ? logged : ops).push_back(std::move(op));
    for (const audit_draft& draft : change.audit) {
      const std::uint64_t seq = next.last_seq + 1;
      const std::size_t first_op = ops.size();  // the entry's own record comes first
      next.last_hash = append_audit_records(seq, next.last_hash, draft, ops, options_.node_id);
      if (options_.on_durable) {
        durable.push_back({seq, draft.subject_exists ? draft.subject : std::string(), ops[first_op].value,
                           next.last_hash});
      }
      next.last_seq = seq;
      receipts[i].audit_sequences.push_back(seq);
      ++entries;
      if (options_.checkpoint_every > 0 && seq - next.checkpoint_seq >= options_.checkpoint_every) {
        if (auto added = add_checkpoint(ops, next); !added) {
          failure = added.error();
          break;
        }
        ++checkpoints;
      }
    }
  }
  if (!failure && checkpoint_due_by_time(next)) {
    if (auto added = add_checkpoint(ops, next); added) {
      ++checkpoints;
    } else {
      failure = added.error();
    }
  }
  if (!failure && !logged.empty()) {
    ops.push_back({write_op::kind::put, column_family::state_log, state_log_key(log_next_),
                   encode_state_log_record(logged)});
  }
  if (!failure && !ops.empty()) {
    sort_group(ops);
    if (options_.fault_injector) {
      if (auto injected = options_.fault_injector(); !injected) {
        note_write(injected);  // stands in for a failed RocksDB write
        failure = injected.error();
      }
    }
    if (!failure) {
      auto written = db_.write(ops);
      note_write(written);
      if (!written) failure = written.error();
    }
  }

  if (failure) {
    groups_failed_.fetch_add(1, std::memory_order_relaxed);
    // WriteBatch is all or nothing, but read back what is stored rather than assume it.
    if (auto stored = audit_journal(db_).chain_head()) {
      head_.last_seq = stored->last_seq;
      head_.last_hash = stored->last_hash;
      if (stored->checkpoint_time) {
        head_.checkpoint_seq = stored->checkpoint_seq;
        head_.checkpoint_time = *stored->checkpoint_time;
      }
    }
  } else {
    head_ = next;
    if (!logged.empty()) {
      folder_->add(std::move(logged), log_next_);
      ++log_next_;
    }
    if (!ops.empty()) groups_written_.fetch_add(1, std::memory_order_relaxed);
    std::uint64_t committed = 0;
    for (const auto& r : rejected) committed += r ? 0U : 1U;
    items_written_.fetch_add(committed, std::memory_order_relaxed);
    entries_written_.fetch_add(entries, std::memory_order_relaxed);
    checkpoints_written_.fetch_add(checkpoints, std::memory_order_relaxed);
  }
  for (std::size_t i = 0; i < group.size(); ++i) {
    if (rejected[i]) {
      complete(group[i].done, *rejected[i]);
    } else if (failure) {
      complete(group[i].done, *failure);
    } else {
      complete(group[i].done, std::move(receipts[i]));
    }
  }
  if (!failure && !durable.empty()) {
    try {
      options_.on_durable(std::move(durable));
    } catch (...) {  // NOLINT(bugprone-empty-catch): as complete(): the writer thread must go on
    }
  }
}

void group_commit_writer::note_write(const result<void>& written) {
  constexpr std::int64_t report_every_seconds = 60;
  const bool was_failing = writes_failing_.load(std::memory_order_relaxed);
  if (written) {
    if (!was_failing) return;
    writes_failing_.store(false, std::memory_order_relaxed);
    if (options_.report_health) options_.report_health({false, {}, std::exchange(unreported_failures_, 0)});
    return;
  }
  writes_failing_.store(true, std::memory_order_relaxed);
  ++unreported_failures_;
  const std::int64_t now = clock_.unix_seconds();
  if (was_failing && now - last_report_time_ < report_every_seconds) return;
  last_report_time_ = now;
  if (options_.report_health) {
    options_.report_health({true, written.error().message, std::exchange(unreported_failures_, 0)});
  }
}

void group_commit_writer::write_checkpoint_only() {
  chain_state next = head_;
  std::vector<write_op> ops;
  auto written = add_checkpoint(ops, next);
  if (written) {
    if (options_.fault_injector) written = options_.fault_injector();
    if (written) written = db_.write(ops);
    note_write(written);
  }
  if (!written) {
    groups_failed_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  head_ = next;
  checkpoints_written_.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace callsign::storage
