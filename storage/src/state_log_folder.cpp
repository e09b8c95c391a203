#include "storage/state_log_folder.hpp"

#include <pthread.h>

#include <algorithm>
#include <utility>

#include "storage/database.hpp"

namespace callsign::storage {
namespace {

state_log_folder_options normalised(state_log_folder_options options) {
  options.max_keys = std::max<std::size_t>(options.max_keys, 1);
  options.interval_ms = std::max<std::int64_t>(options.interval_ms, 0);
  return options;
}

}  // namespace

state_log_folder::state_log_folder(database& db, std::uint64_t first_unfolded, state_log_folder_options options)
    : db_(db),
      options_(normalised(std::move(options))),
      incoming_next_(first_unfolded),
      first_(first_unfolded),
      combined_next_(first_unfolded) {
  thread_ = std::thread([this] { run(); });
}

state_log_folder::~state_log_folder() {
  stop();
}

void state_log_folder::add(std::vector<write_op> ops, std::uint64_t number) {
  const std::lock_guard lock(mutex_);
  if (stopping_) return;  // the record stays in the log; database::open applies it
  const bool idle = !pending_since_;
  if (idle) pending_since_ = steady::now();
  const bool was_due = incoming_ops_ >= wake_ops();
  incoming_ops_ += ops.size();
  incoming_.push_back(std::move(ops));
  incoming_next_ = number + 1;
  // Wake the thread only to start its interval clock or once a quarter of the key limit in
  // writes has arrived since it last combined: not once per group.
  if (idle || (!was_due && incoming_ops_ >= wake_ops())) wake_.notify_one();
}

void state_log_folder::stop() {
  const std::lock_guard stop_lock(stop_mutex_);
  {
    const std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void state_log_folder::run() {
  // Tells the folder apart in top -H, perf and /proc/PID/task.
  pthread_setname_np(pthread_self(), "callsign-fold");
  std::unique_lock lock(mutex_);
  for (;;) {
    if (!stopping_ && !pending_since_) {
      wake_.wait(lock, [this] { return stopping_ || pending_since_.has_value(); });
    }
    if (stopping_) break;
    const auto deadline = *pending_since_ + std::chrono::milliseconds(options_.interval_ms);
    wake_.wait_until(lock, deadline, [this] { return stopping_ || incoming_ops_ >= wake_ops(); });
    if (stopping_) break;
    combine_incoming(lock);
    const auto now = steady::now();
    // Repeated keys (a busy agent's counter) combine into one write, so the fold waits for
    // distinct keys: fewer, fuller folds.
    if (fold_.keys() < options_.max_keys && now < deadline) continue;
    const bool folded = fold(lock, false);
    // After a failure the next attempt waits for an interval or another quarter of writes, so a
    // broken disk is not retried in a tight loop.
    if (!folded || !incoming_.empty()) {
      pending_since_ = now;
    } else {
      pending_since_.reset();
    }
  }
  combine_incoming(lock);
  fold(lock, true);
}

void state_log_folder::combine_incoming(std::unique_lock<std::mutex>& lock) {
  std::vector<std::vector<write_op>> records;
  records.swap(incoming_);
  incoming_ops_ = 0;
  const std::uint64_t next = incoming_next_;
  lock.unlock();
  for (const auto& ops : records) {
    for (const write_op& op : ops) fold_.add(op);
  }
  records.clear();  // frees the ops here, not under the lock
  lock.lock();
  combined_next_ = next;
}

bool state_log_folder::fold(std::unique_lock<std::mutex>& lock, bool sync) {
  if (first_ == combined_next_) return true;  // nothing logged since the last fold
  lock.unlock();
  auto ops = fold_.take();
  const std::size_t folded = ops.size();
  for (std::uint64_t n = first_; n < combined_next_; ++n) {
    ops.push_back({write_op::kind::remove, column_family::state_log, state_log_key(n), {}});
  }
  result<void> written;
  if (options_.fault_injector) written = options_.fault_injector();
  if (written) written = sync ? db_.write(ops) : db_.write_unsynced(ops);
  if (written) {
    first_ = combined_next_;
    folds_.fetch_add(1, std::memory_order_relaxed);
  } else {
    // The log still holds every change: keep them pending and try again with the next fold.
    folds_failed_.fetch_add(1, std::memory_order_relaxed);
    for (std::size_t i = 0; i < folded; ++i) fold_.add(ops[i]);
  }
  lock.lock();
  return static_cast<bool>(written);
}

}  // namespace callsign::storage
