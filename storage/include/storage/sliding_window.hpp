// The sliding-window estimate Cloudflare described for its rate limiting: two fixed windows
// (previous and current, aligned to multiples of the window length) stand in for a true
// sliding window, weighting the previous one by how much of it still overlaps:
//   estimate(t) = previous * (1 - elapsed / window) + current,  elapsed = t - window_start.
// It assumes the previous window's events were spread evenly, so a burst at the end of one
// window fades early: up to about twice the limit can pass within one window length. Hence it
// serves only limits above max_exact_limit; smaller ones are counted exactly
// (sliding_window_log.hpp, chosen by rate_window.hpp). docs/shared-state.md, "Rate counters".
// Pure arithmetic on a value type, so backends (embedded, Redis) share one definition and
// tests check it at exact times. Times are milliseconds supplied by callers (the injected
// clock); nothing here reads a clock.
#pragma once

#include <cstdint>

#include "crypto/result.hpp"

namespace callsign::storage {

// Limits that keep every sum below in range (about 142,000 years of milliseconds and windows
// up to about 34 years), checked once at the API boundary by check_window_arguments.
inline constexpr std::int64_t max_time_ms = std::int64_t{1} << 52;
inline constexpr std::int64_t max_window_ms = std::int64_t{1} << 40;

// invalid_input unless 0 <= now_ms <= max_time_ms and 1 <= window_ms <= max_window_ms.
result<void> check_window_arguments(std::int64_t now_ms, std::int64_t window_ms);

// A value: copy it freely; not synchronised. Member functions expect times and windows that
// passed check_window_arguments.
struct sliding_window_counter {
  std::int64_t window_ms = 1;
  std::int64_t window_start_ms = 0;  // start of the current window, a multiple of window_ms
  std::int64_t previous = 0;         // events in [window_start_ms - window_ms, window_start_ms)
  std::int64_t current = 0;          // events in [window_start_ms, window_start_ms + window_ms)

  // No events, current window holding now_ms.
  static sliding_window_counter empty(std::int64_t window_ms, std::int64_t now_ms) noexcept;

  // The weighted count at now_ms (no state change). Before window_start_ms (a caller whose
  // clock reading is slightly older than one already applied) it is previous + current.
  double estimate(std::int64_t now_ms) const noexcept;

  // Adds `amount` (>= 0, saturating) at now_ms, first moving the windows forward when now_ms
  // is in a later window. An amount timed before the current window counts as previous, so a
  // late-arriving event is never lost.
  void add(std::int64_t amount, std::int64_t now_ms) noexcept;

  // True when the estimate is 0 at now_ms and stays 0 without new events: safe to forget.
  bool expired(std::int64_t now_ms) const noexcept;

  // The same history measured with another window length, as of now_ms. Used when
  // configuration changes a window; the estimate so far (rounded up) becomes the new current
  // count, so a reload never forgives failures early.
  sliding_window_counter with_window(std::int64_t new_window_ms, std::int64_t now_ms) const noexcept;

  // 0 when estimate(now_ms) < limit. Otherwise the smallest whole number of seconds s >= 1
  // with estimate(now_ms + 1000 * s) < limit if nothing more is added: what Retry-After says.
  // A limit <= 0 is never satisfied; it gives the seconds until the estimate reaches 0.
  std::int64_t retry_after_seconds(double limit, std::int64_t now_ms) const noexcept;

  friend bool operator==(const sliding_window_counter&, const sliding_window_counter&) = default;
};

}  // namespace callsign::storage
