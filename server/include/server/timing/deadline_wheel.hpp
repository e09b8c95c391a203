// A lazy timer wheel of connection deadlines: every open stream's next deadline (auth, keep-alive
// ping, idle, stuck write, close; server/stream/stream_hub.hpp) and every plain HTTP connection's
// phase deadline (net/phase_deadline.hpp), checked by one periodic sweep (net/stream_timers.cpp)
// instead of a timer (and a pending timer wait) per connection.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

namespace callsign::server {

class deadline_wheel;

// The owner sets `due` (milliseconds on the sweep's clock) with set_due(); the sweep calls
// on_deadline() once it has passed, and resets due to never first, so it fires once per set_due.
class deadline_entry {
 public:
  static constexpr std::int64_t never = INT64_MAX;
  // Lock-free unless the new due is earlier than the slot the entry is filed in (rare: a
  // deadline usually moves later), which refiles it under the list's lock.
  void set_due(std::int64_t due_ms) noexcept;
  std::int64_t due() const noexcept { return due_.load(std::memory_order_relaxed); }
  // Called by deadline_wheel::sweep on the sweeping thread, under the list's lock: it must
  // only hand the work to the owner (post), never block or touch the list. It returns what kept
  // its owner alive while it ran (the strong reference it took, or nothing), which the sweep
  // drops only once it has released the lock: the owner's destructor removes the entry, which
  // takes that lock, so a last reference dropped under it would wait for itself forever.
  virtual std::shared_ptr<void> on_deadline() = 0;

 protected:
  deadline_entry() = default;
  virtual ~deadline_entry() = default;
  deadline_entry(const deadline_entry&) = delete;
  deadline_entry& operator=(const deadline_entry&) = delete;

 private:
  friend class deadline_wheel;
  std::atomic<std::int64_t> due_{never};
  std::atomic<std::int64_t> filed_tick_{never};  // the wheel slot's tick; never = not filed
  deadline_wheel* list_ = nullptr;               // set while added
  deadline_entry* prev_ = nullptr;               // intrusive slot list: no allocation per entry
  deadline_entry* next_ = nullptr;
};

// A lazy timer wheel: slots of `tick_ms` each over `slots` ticks. An entry sits in the slot of its
// due tick (or the furthest slot, when due is further away); a deadline that moves later leaves
// the entry where it is, and the sweep that reaches it refiles it. So a sweep visits only the
// entries filed in the ticks that passed since the last sweep, not every connection: with 19,000
// idle streams, a sweep every 100 ms touches a few of them instead of all.
//
// Thread-safety: all members may be called from any thread. An entry must be removed before it
// is destroyed.
class deadline_wheel {
 public:
  explicit deadline_wheel(std::int64_t tick_ms = 100, std::size_t slots = 1024);
  deadline_wheel(const deadline_wheel&) = delete;
  deadline_wheel& operator=(const deadline_wheel&) = delete;

  void add(deadline_entry& entry);
  void remove(deadline_entry& entry);  // idempotent
  // Calls on_deadline() for every entry due at `now_ms` (first resetting its due to never);
  // returns how many. Entries whose due is still ahead are refiled. `now_ms` comes from a
  // monotonic clock: it never goes backwards between sweeps. An entry fires at the first sweep
  // at or after its due whose tick is past the tick it was filed in: at most one tick late.
  std::size_t sweep(std::int64_t now_ms);
  std::size_t size() const;

 private:
  friend class deadline_entry;
  void refile(deadline_entry& entry);
  void file(deadline_entry& entry);    // mutex_ held; entry unlinked
  void unlink(deadline_entry& entry);  // mutex_ held
  std::int64_t tick_of(std::int64_t ms) const noexcept;

  const std::int64_t tick_ms_;
  mutable std::mutex mutex_;
  std::vector<deadline_entry*> slots_;
  std::int64_t swept_tick_ = 0;  // every tick up to this one has been swept
  bool started_ = false;
  std::size_t size_ = 0;
};

}  // namespace callsign::server
