// Event counts over sliding windows (verify failures per user, agent and source address; later
// failed logins), by opaque keys that callers build with state_key(). An interface so several
// callsignd nodes can later share counters through Redis/Valkey; today the embedded backend
// (embedded_rate_counters.hpp) keeps them in memory and RocksDB. docs/shared-state.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "crypto/result.hpp"
#include "storage/change_set.hpp"
#include "storage/sliding_window.hpp"

namespace callsign::storage {

// A count as of one moment, with the window state it came from so the caller can work out
// Retry-After without another round trip.
struct rate_estimate {
  double value = 0.0;  // weighted events in the sliding window ending at at_ms
  std::int64_t at_ms = 0;
  sliding_window_counter window;
};

// The caller is over the limit when the estimate has reached it: a limit of 5 allows 5 events
// per window and refuses the next attempt.
inline bool over_limit(const rate_estimate& estimate, double limit) noexcept {
  return !(estimate.value < limit);
}

// 0 when not over the limit; otherwise the whole seconds (>= 1) after at_ms until the estimate
// drops below the limit, assuming no further events (see sliding_window_counter).
inline std::int64_t retry_after_seconds(const rate_estimate& estimate, double limit) noexcept {
  return estimate.window.retry_after_seconds(limit, estimate.at_ms);
}

// Keys are at most this many bytes and never empty (invalid_input otherwise).
inline constexpr std::size_t max_rate_key = 1024;

// Thread-safety: implementations must allow concurrent calls from any threads on any keys.
class rate_counters {
 public:
  virtual ~rate_counters() = default;

  // The estimate for `key` at now_ms over windows of window_ms. Changes nothing persistent.
  // A key always uses one window length; passing another treats the history as described
  // at sliding_window_counter::with_window.
  virtual result<rate_estimate> estimate(std::string_view key, std::int64_t now_ms, std::int64_t window_ms) = 0;

  // Atomically adds amount (>= 0) at now_ms and returns the estimate including it. Appends
  // whatever must be persisted to `changes`. Concurrent adds never lose a count.
  virtual result<rate_estimate> add(std::string_view key, std::int64_t amount, std::int64_t now_ms,
                                    std::int64_t window_ms, change_set& changes) = 0;

 protected:
  rate_counters() = default;
  rate_counters(const rate_counters&) = default;
  rate_counters& operator=(const rate_counters&) = default;
};

}  // namespace callsign::storage
