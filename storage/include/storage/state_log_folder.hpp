// Folds the state log (state_log.hpp) into the keyed families on a thread of its own.
//
// The group-commit writer appends one state-log record per group and hands the record's ops
// over here once the record is durable. This thread combines them per key (state_fold) and,
// when enough distinct keys are pending or the oldest pending record is old enough, writes the
// combined ops and deletes the folded records in one WriteBatch. A fold of 2,048 keys takes
// about 5 ms here; on the writer thread it held up every request queued behind it. RocksDB
// applies one batch at a time, so even from this thread a large fold holds up the group that
// reaches RocksDB while it is applied: folds stay small (max_keys, 256 by default).
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "crypto/result.hpp"
#include "storage/change_set.hpp"
#include "storage/state_log.hpp"

namespace callsign::storage {

class database;

struct state_log_folder_options {
  std::size_t max_keys = 256;       // fold once this many distinct keys are pending
  std::int64_t interval_ms = 1000;  // or this long after the oldest unfolded record was handed over
  // Test seam: runs before each fold's write; an error fails the fold as a failed write would.
  std::function<result<void>()> fault_injector;
};

// Thread-safety: add() from one thread at a time (the writer's), in record order; stop() and
// the counters from any thread.
class state_log_folder {
 public:
  // `first_unfolded` is the number of the first record still in the log (the writer's next
  // number when the log is empty). `db` must outlive the folder. Starts the thread.
  state_log_folder(database& db, std::uint64_t first_unfolded, state_log_folder_options options);
  state_log_folder(const state_log_folder&) = delete;
  state_log_folder& operator=(const state_log_folder&) = delete;
  ~state_log_folder();  // stop()

  // Record `number` (durable, one more than the last one added) holds `ops`. Never blocks on a
  // fold: it only queues them.
  void add(std::vector<write_op> ops, std::uint64_t number);

  // Folds everything added so far in one synced batch and joins the thread. Idempotent. A fold
  // that fails here leaves its records in the log for database::open to apply.
  void stop();

  std::uint64_t folds() const noexcept { return folds_.load(std::memory_order_relaxed); }
  std::uint64_t folds_failed() const noexcept { return folds_failed_.load(std::memory_order_relaxed); }

 private:
  using steady = std::chrono::steady_clock;

  void run();
  // Folder thread, `lock` held on entry and exit (released while working): combines what add()
  // queued into fold_; writes fold_ and deletes the records it covers, returning false when
  // the write failed (fold_ then keeps the combined ops for the next attempt).
  void combine_incoming(std::unique_lock<std::mutex>& lock);
  bool fold(std::unique_lock<std::mutex>& lock, bool sync);
  // Queued writes that wake the thread to combine: a quarter of the key limit, so it wakes a
  // few times per fold, not per group.
  std::size_t wake_ops() const noexcept { return std::max<std::size_t>(options_.max_keys / 4, 1); }

  database& db_;
  const state_log_folder_options options_;

  std::mutex mutex_;
  std::condition_variable wake_;
  std::vector<std::vector<write_op>> incoming_;  // guarded by mutex_
  std::size_t incoming_ops_ = 0;                 // guarded by mutex_
  std::uint64_t incoming_next_ = 0;              // guarded by mutex_: one past the last added record
  std::optional<steady::time_point> pending_since_;  // guarded by mutex_: oldest unfolded hand-over
  bool stopping_ = false;                        // guarded by mutex_
  std::mutex stop_mutex_;                        // serialises stop() callers
  std::thread thread_;

  // Folder thread only: the combined ops, the first record not folded yet, and one past the
  // last record combined.
  state_fold fold_;
  std::uint64_t first_ = 1;
  std::uint64_t combined_next_ = 1;

  std::atomic<std::uint64_t> folds_{0};
  std::atomic<std::uint64_t> folds_failed_{0};
};

}  // namespace callsign::storage
