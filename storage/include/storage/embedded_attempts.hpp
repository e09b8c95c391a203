// The embedded backend's code_attempts and login_attempts: composed from the single-node stores
// (replay_marks, rate_counters, blocks), made atomic per attempt by locking the stripes of every
// key the attempt touches, in one global order. They answer inline, on the caller's thread,
// when every key is in memory; when a read would wait for the disk (a key not touched since a
// restart, storage/read_policy.hpp) the attempt changes nothing and runs again on
// `blocking_work` (storage/blocking_pool.hpp), so an I/O thread never waits for the disk.
#pragma once

#include <cstddef>
#include <memory>

#include "storage/blocking_pool.hpp"
#include "storage/blocks.hpp"
#include "storage/code_attempts.hpp"
#include "storage/login_attempts.hpp"
#include "storage/rate_counters.hpp"
#include "storage/replay_marks.hpp"

namespace callsign::storage {

namespace detail {
class attempt_runner;
}

// Thread-safety: any thread, concurrently. The stores must outlive this object, and so must
// `blocking_work`'s pool until every attempt handed to it has finished. Without blocking_work,
// an attempt that would wait for the disk waits on the caller's thread.
class embedded_code_attempts final : public code_attempts {
 public:
  embedded_code_attempts(replay_marks& marks, rate_counters& counters, blocking_executor blocking_work = {});
  ~embedded_code_attempts() override;
  embedded_code_attempts(const embedded_code_attempts&) = delete;
  embedded_code_attempts& operator=(const embedded_code_attempts&) = delete;

  void settle(const code_attempt& attempt, change_set& changes, completion<code_attempt_result> done) override;

  // Attempts that found a key on disk only and ran again on blocking_work.
  std::size_t moved_to_blocking_work() const noexcept;

 private:
  result<code_attempt_result> settle_locked(const code_attempt& attempt, change_set& changes);

  replay_marks& marks_;
  rate_counters& counters_;
  std::unique_ptr<detail::attempt_runner> runner_;
};

// As above, for login outcomes.
class embedded_login_attempts final : public login_attempts {
 public:
  embedded_login_attempts(rate_counters& counters, blocks& blocks, blocking_executor blocking_work = {});
  ~embedded_login_attempts() override;
  embedded_login_attempts(const embedded_login_attempts&) = delete;
  embedded_login_attempts& operator=(const embedded_login_attempts&) = delete;

  void record(const login_attempt& attempt, change_set& changes, completion<login_attempt_result> done) override;

  std::size_t moved_to_blocking_work() const noexcept;

 private:
  result<login_attempt_result> record_locked(const login_attempt& attempt, change_set& changes);

  rate_counters& counters_;
  blocks& blocks_;
  std::unique_ptr<detail::attempt_runner> runner_;
};

}  // namespace callsign::storage
