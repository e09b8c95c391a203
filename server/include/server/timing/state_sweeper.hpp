// Drops the embedded backend's expired in-memory state on a timer (docs/shared-state.md, "Memory").
// The stores sweep a stripe only when it is used, so after an attack of fresh addresses and
// usernames the stripes nobody touches again would keep their expired counters and blocks until
// a restart; this thread sweeps every stripe once per interval instead, off the I/O threads.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "storage/clock.hpp"

namespace callsign::server {

// Thread-safety: constructed and destroyed by one thread; the sweeps run on its own thread and
// must be safe to call concurrently with the stores' other users (their sweep() are).
class state_sweeper {
 public:
  // Each sweep gets the clock's time in unix milliseconds and returns how many entries it dropped.
  using sweep = std::function<std::size_t(std::int64_t now_ms)>;

  state_sweeper(const storage::clock& clock, std::chrono::milliseconds interval, std::vector<sweep> sweeps);
  ~state_sweeper();  // stops at once (a sweep in progress finishes), then joins
  state_sweeper(const state_sweeper&) = delete;
  state_sweeper& operator=(const state_sweeper&) = delete;

  // Rounds completed and entries dropped so far (tests, logs).
  std::uint64_t rounds() const;
  std::uint64_t dropped() const;

 private:
  void run();

  const storage::clock& clock_;
  const std::chrono::milliseconds interval_;
  const std::vector<sweep> sweeps_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::uint64_t rounds_ = 0;
  std::uint64_t dropped_ = 0;
  std::thread thread_;  // last: starts once everything above is ready
};

}  // namespace callsign::server
