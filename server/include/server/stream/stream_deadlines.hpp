// Every open stream connection's next deadline (auth, keep-alive ping, idle, stuck write, close),
// and every plain HTTP connection's phase deadline (net/phase_deadline.hpp), checked by one
// periodic sweep instead of a timer (and a pending timer wait) per connection.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string_view>
#include <vector>

namespace callsign::server {

// A subscribed stream's token stops being valid at `valid_until` (unix seconds: its exp plus
// auth.leeway_seconds, as token_verifier refuses it from then on); the stream is then closed
// 1008 with this error, and sent nothing more. See docs/stream.md.
inline constexpr std::string_view stream_expired_error = "token expired";
// True from valid_until on, `unix_now_ms` being the injected clock's time.
bool stream_token_expired(std::int64_t valid_until, std::int64_t unix_now_ms) noexcept;
// That moment on the sweep's (monotonic) clock, as seen at steady_now_ms / unix_now_ms; never
// earlier than steady_now_ms. When the wall clock moves, the owner re-checks with
// stream_token_expired when this is due, and asks again if it is not expired yet.
std::int64_t stream_expiry_due_ms(std::int64_t valid_until, std::int64_t unix_now_ms,
                                  std::int64_t steady_now_ms) noexcept;

class stream_deadlines;

// The owner sets `due` (milliseconds on the sweep's clock) with set_due(); the sweep calls
// on_deadline() once it has passed, and resets due to never first, so it fires once per set_due.
class stream_deadline {
 public:
  static constexpr std::int64_t never = INT64_MAX;
  // Lock-free unless the new due is earlier than the slot the entry is filed in (rare: a
  // deadline usually moves later), which refiles it under the list's lock.
  void set_due(std::int64_t due_ms) noexcept;
  std::int64_t due() const noexcept { return due_.load(std::memory_order_relaxed); }
  // Called by stream_deadlines::sweep on the sweeping thread, under the list's lock: it must
  // only hand the work to the owner (post), never block or touch the list.
  virtual void on_deadline() = 0;

 protected:
  stream_deadline() = default;
  virtual ~stream_deadline() = default;
  stream_deadline(const stream_deadline&) = delete;
  stream_deadline& operator=(const stream_deadline&) = delete;

 private:
  friend class stream_deadlines;
  std::atomic<std::int64_t> due_{never};
  std::atomic<std::int64_t> filed_tick_{never};  // the wheel slot's tick; never = not filed
  stream_deadlines* list_ = nullptr;             // set while added
  stream_deadline* prev_ = nullptr;              // intrusive slot list: no allocation per entry
  stream_deadline* next_ = nullptr;
};

// A lazy timer wheel: slots of `tick_ms` each over `slots` ticks. An entry sits in the slot of its
// due tick (or the furthest slot, when due is further away); a deadline that moves later leaves
// the entry where it is, and the sweep that reaches it refiles it. So a sweep visits only the
// entries filed in the ticks that passed since the last sweep, not every connection: with 19,000
// idle streams, a sweep every 100 ms touches a few of them instead of all.
//
// Thread-safety: all members may be called from any thread. An entry must be removed before it
// is destroyed.
class stream_deadlines {
 public:
  explicit stream_deadlines(std::int64_t tick_ms = 100, std::size_t slots = 1024);
  stream_deadlines(const stream_deadlines&) = delete;
  stream_deadlines& operator=(const stream_deadlines&) = delete;

  void add(stream_deadline& entry);
  void remove(stream_deadline& entry);  // idempotent
  // Calls on_deadline() for every entry due at `now_ms` (first resetting its due to never);
  // returns how many. Entries whose due is still ahead are refiled. `now_ms` comes from a
  // monotonic clock: it never goes backwards between sweeps. An entry fires at the first sweep
  // at or after its due whose tick is past the tick it was filed in: at most one tick late.
  std::size_t sweep(std::int64_t now_ms);
  std::size_t size() const;

 private:
  friend class stream_deadline;
  void refile(stream_deadline& entry);
  void file(stream_deadline& entry);    // mutex_ held; entry unlinked
  void unlink(stream_deadline& entry);  // mutex_ held
  std::int64_t tick_of(std::int64_t ms) const noexcept;

  const std::int64_t tick_ms_;
  mutable std::mutex mutex_;
  std::vector<stream_deadline*> slots_;
  std::int64_t swept_tick_ = 0;  // every tick up to this one has been swept
  bool started_ = false;
  std::size_t size_ = 0;
};

}  // namespace callsign::server
