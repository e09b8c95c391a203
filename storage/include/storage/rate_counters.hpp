// Event counts over sliding windows (verify failures per user, agent and source address; failed
// logins), exact for small limits (rate_window.hpp), by opaque keys that callers build with
// state_key(). An interface so several callsignd nodes can later share counters through
// Redis/Valkey; today the embedded backend (embedded_rate_counters.hpp) keeps them in memory and
// RocksDB. docs/shared-state.md.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "crypto/result.hpp"
#include "storage/change_set.hpp"
#include "storage/rate_window.hpp"

namespace callsign::storage {

// The caller is over the limit when the count has reached it: a limit of 5 allows 5 events
// per window and refuses the next attempt.
inline bool over_limit(const rate_estimate& estimate) noexcept {
  return !(estimate.value < static_cast<double>(estimate.limit));
}

// The same against another limit, for a value the caller combined from several estimates.
inline bool over_limit(const rate_estimate& estimate, double limit) noexcept {
  return !(estimate.value < limit);
}

// 0 when not over the limit; otherwise the whole seconds (>= 1) after at_ms until the count
// drops below the limit if nothing more is added: for a log, the time until the oldest event
// that keeps it at the limit leaves the window, rounded up.
inline std::int64_t retry_after_seconds(const rate_estimate& estimate) noexcept {
  if (!over_limit(estimate)) {
    return 0;
  }
  return std::max<std::int64_t>((estimate.retry_after_ms + 999) / 1000, 1);
}

// Keys are at most this many bytes and never empty (invalid_input otherwise).
inline constexpr std::size_t max_rate_key = 1024;

// Thread-safety: implementations must allow concurrent calls from any threads on any keys.
class rate_counters {
 public:
  virtual ~rate_counters() = default;

  // The count for `key` at now_ms against `limit` (exact when limit.exact()). Changes nothing
  // persistent. A key is meant to be used with one limit; another window or kind is applied to
  // a copy as rate_window::adapt describes.
  virtual result<rate_estimate> estimate(std::string_view key, std::int64_t now_ms, const rate_limit& limit) = 0;

  // Atomically adds amount (>= 0) at now_ms and returns the count including it. Adapts the
  // stored history to `limit` first (rate_window::adapt). Appends whatever must be persisted
  // to `changes`. Concurrent adds never lose a count.
  virtual result<rate_estimate> add(std::string_view key, std::int64_t amount, std::int64_t now_ms,
                                    const rate_limit& limit, change_set& changes) = 0;

 protected:
  rate_counters() = default;
  rate_counters(const rate_counters&) = default;
  rate_counters& operator=(const rate_counters&) = default;
};

}  // namespace callsign::storage
