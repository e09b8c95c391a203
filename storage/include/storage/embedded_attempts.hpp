// The embedded backend's code_attempts and login_attempts: composed from the single-node stores
// (replay_marks, rate_counters, blocks), made atomic per attempt by locking the stripes of every
// key the attempt touches, in one global order. It answers inline, on the caller's thread,
// when every key is in memory; when a read would wait for the disk (a key not touched since a
// restart, storage/read_policy.hpp) it changes nothing and runs the attempt again on
// `blocking_work` (the server's worker pool), so an I/O thread never waits for the disk.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <functional>
#include <mutex>

#include "storage/blocking_pool.hpp"
#include "storage/blocks.hpp"
#include "storage/code_attempts.hpp"
#include "storage/login_attempts.hpp"
#include "storage/rate_counters.hpp"
#include "storage/replay_marks.hpp"

namespace callsign::storage {

// Thread-safety: any thread, concurrently. The stores must outlive this object, and so must
// `blocking_work`'s pool until every attempt handed to it has finished.
class embedded_attempts final : public code_attempts, public login_attempts {
 public:
  // Without blocking_work, attempts that would wait for the disk wait on the caller's thread.
  embedded_attempts(replay_marks& marks, rate_counters& counters, blocks& blocks, blocking_executor blocking_work = {});

  void settle(const code_attempt& attempt, change_set& changes, completion<code_attempt_result> done) override;
  void record(const login_attempt& attempt, change_set& changes, completion<login_attempt_result> done) override;

  // Attempts that found a key on disk only and ran again on blocking_work (for /metrics).
  std::size_t moved_to_blocking_work() const noexcept;

  static constexpr std::size_t lock_stripes = 4096;

 private:
  // Holds the stripes of `keys` (deduplicated, ascending) until destroyed.
  class key_locks;

  result<code_attempt_result> settle_locked(const code_attempt& attempt, change_set& changes);
  result<login_attempt_result> record_locked(const login_attempt& attempt, change_set& changes);
  template <class Result, class Run>
  void run(Run run_locked, completion<Result> done);

  replay_marks& marks_;
  rate_counters& counters_;
  blocks& blocks_;
  blocking_executor blocking_work_;
  std::array<std::mutex, lock_stripes> stripes_;
  std::atomic<std::size_t> moved_{0};
};

}  // namespace callsign::storage
