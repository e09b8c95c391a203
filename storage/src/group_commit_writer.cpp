// The group-commit writer's public side and its preparing thread. Building batches and the
// syncing thread are in group_commit_batches.cpp.
#include "storage/group_commit_writer.hpp"

#include <algorithm>
#include <chrono>
#include <future>
#include <optional>
#include <vector>

#include "storage/audit_checkpoint.hpp"
#include "storage/audit_journal.hpp"

namespace callsign::storage {
namespace {

// The unfolded state log: every record's ops in order, the first and the next record number.
struct logged_state {
  state_fold fold;
  std::optional<std::uint64_t> first;
  std::uint64_t next = 1;
};

result<logged_state> read_state_log(database& db) {
  logged_state out;
  std::optional<error> failure;
  auto scanned = db.scan(column_family::state_log, database::scan_direction::forward, {},
                         [&](std::string_view key, std::string_view value) {
                           const auto number = parse_audit_key(key);
                           auto ops = decode_state_log_record(value);
                           if (!number || !ops) {
                             failure = ops ? make_error(error_kind::internal, "a state log key is damaged") : ops.error();
                             return false;
                           }
                           if (!out.first) out.first = *number;
                           out.next = *number + 1;
                           for (const write_op& op : *ops) out.fold.add(op);
                           return true;
                         });
  if (!scanned) return scanned.error();
  if (failure) return *failure;
  return out;
}

}  // namespace

result<std::unique_ptr<group_commit_writer>> group_commit_writer::start(database& db, const crypto::key_ring& ring,
                                                                        const clock& clk,
                                                                        group_commit_options options) {
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
  // Empty after database::open, which replays it; read anyway, so nothing logged is skipped.
  auto logged = read_state_log(db);
  if (!logged) return logged.error();
  chain_state state{head->last_seq, head->last_hash, head->checkpoint_seq,
                    head->checkpoint_time.value_or(clk.unix_seconds())};
  std::unique_ptr<group_commit_writer> writer(
      new group_commit_writer(db, clk, std::move(options), std::move(key).value(), ring.current().version, state));
  writer->fold_ = std::move(logged->fold);
  writer->fold_first_ = logged->first.value_or(logged->next);
  writer->log_next_ = logged->next;
  writer->fold_since_ = std::chrono::steady_clock::now();
  writer->sync_thread_ = std::thread([w = writer.get()] { w->sync_run(); });
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
  try {
    done(make_error(error_kind::unavailable, "the storage writer is stopped"));
  } catch (...) {  // NOLINT(bugprone-empty-catch): a throwing completion must not escape submit
  }
}

result<commit_receipt> group_commit_writer::commit(change_set change) {
  // Shared, so the syncing thread may still be inside set_value() when this caller returns.
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
  if (thread_.joinable()) thread_.join();  // hands over everything, then stops the syncing thread
  if (sync_thread_.joinable()) sync_thread_.join();
}

group_commit_stats group_commit_writer::stats() const noexcept {
  return {groups_written_.load(std::memory_order_relaxed), items_written_.load(std::memory_order_relaxed),
          entries_written_.load(std::memory_order_relaxed), checkpoints_written_.load(std::memory_order_relaxed),
          groups_failed_.load(std::memory_order_relaxed),  state_folds_.load(std::memory_order_relaxed),
          state_folds_failed_.load(std::memory_order_relaxed)};
}

void group_commit_writer::wait_for_work(std::unique_lock<std::mutex>& lock) {
  const auto ready = [this] { return stopping_ || !queue_.empty(); };
  std::optional<std::chrono::steady_clock::duration> timeout;
  if (options_.checkpoint_interval_seconds > 0 && head_.last_seq > head_.checkpoint_seq) {
    // Entries await a checkpoint: wake now and then to sign one when the interval passes.
    timeout = std::chrono::seconds(1);
  }
  if (!fold_.empty()) {
    // Logged state awaits its fold: wake when the oldest unfolded group is due.
    const auto left = std::max<std::chrono::steady_clock::duration>(
        fold_since_ + std::chrono::milliseconds(options_.fold_interval_ms) - std::chrono::steady_clock::now(),
        std::chrono::steady_clock::duration::zero());
    timeout = timeout ? std::min(*timeout, left) : left;
  }
  if (timeout) {
    wake_.wait_for(lock, *timeout, ready);
  } else {
    wake_.wait(lock, ready);
  }
}

void group_commit_writer::run() {
  for (;;) {
    {
      // Take the next group only once the syncing thread has started on the last one: what
      // arrives while a batch waits joins the next group instead of making small ones.
      std::unique_lock sync_lock(sync_mutex_);
      sync_space_.wait(sync_lock, [this] { return prepared_.size() < max_prepared; });
    }
    std::deque<pending> group;
    bool stopping = false;
    {
      std::unique_lock lock(mutex_);
      wait_for_work(lock);
      if (queue_.size() <= options_.max_group_items) {
        group.swap(queue_);
      } else {
        for (std::size_t i = 0; i < options_.max_group_items; ++i) {
          group.push_back(std::move(queue_.front()));
          queue_.pop_front();
        }
      }
      stopping = group.empty() && stopping_;
    }
    if (stopping) break;
    recover_if_broken();
    if (!group.empty()) {
      hand_over(prepare_group(std::move(group)));
    } else if (checkpoint_due_by_time(head_)) {
      hand_over(prepare_checkpoint_only());
    }
    if (fold_due()) hand_over(prepare_fold(false));
  }
  recover_if_broken();
  if (!fold_.empty()) hand_over(prepare_fold(true));
  if (head_.last_seq > head_.checkpoint_seq) hand_over(prepare_checkpoint_only());
  {
    const std::lock_guard sync_lock(sync_mutex_);
    sync_stopping_ = true;
  }
  sync_wake_.notify_all();
}

bool group_commit_writer::checkpoint_due_by_time(const chain_state& head) const {
  return options_.checkpoint_interval_seconds > 0 && head.last_seq > head.checkpoint_seq &&
         clock_.unix_seconds() - head.checkpoint_time >= options_.checkpoint_interval_seconds;
}

bool group_commit_writer::fold_due() const {
  if (fold_.empty()) return false;
  return fold_.keys() >= options_.fold_max_keys ||
         std::chrono::steady_clock::now() - fold_since_ >= std::chrono::milliseconds(options_.fold_interval_ms);
}

void group_commit_writer::recover_if_broken() {
  {
    std::unique_lock sync_lock(sync_mutex_);
    if (!broken_) return;
    sync_space_.wait(sync_lock, [this] { return prepared_.empty() && !sync_busy_; });
  }
  // WriteBatches are all or nothing, but read back what is stored rather than assume it. What
  // the failed batches would have logged is gone from disk; memory keeps it, as for any change
  // whose commit failed (see replay_marks::claim).
  if (auto stored = audit_journal(db_).chain_head()) {
    head_.last_seq = stored->last_seq;
    head_.last_hash = stored->last_hash;
    if (stored->checkpoint_time) {
      head_.checkpoint_seq = stored->checkpoint_seq;
      head_.checkpoint_time = *stored->checkpoint_time;
    }
  }
  if (auto logged = read_state_log(db_)) {
    fold_ = std::move(logged->fold);
    fold_first_ = logged->first.value_or(std::max(logged->next, log_next_));
    log_next_ = std::max(logged->next, log_next_);
    fold_since_ = std::chrono::steady_clock::now();
  }
  const std::lock_guard sync_lock(sync_mutex_);
  broken_ = false;
}

}  // namespace callsign::storage
