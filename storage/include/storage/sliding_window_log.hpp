// An exact sliding-window count for small limits: the times of the newest events, at most
// `capacity` of them (the limit they are kept for). An event at t counts at now while
// now - t < window_ms, so "limit events per window" is enforced to the millisecond, where the
// two-window estimate (sliding_window.hpp) can admit up to about twice the limit across a
// window edge. Pure arithmetic on a value type, shared by every backend; nothing here reads a
// clock. docs/shared-state.md, "Rate counters".
#pragma once

#include <cstdint>
#include <vector>

#include "storage/sliding_window.hpp"

namespace callsign::storage {

// A value: copy it freely; not synchronised. Member functions expect times and windows that
// passed check_window_arguments and capacity in [1, max_exact_limit] (rate_window.hpp).
struct sliding_window_log {
  std::int64_t window_ms = 1;
  std::int64_t capacity = 1;        // at most this many times are kept: the newest
  std::vector<std::int64_t> times;  // ascending; duplicates are separate events

  static sliding_window_log empty(std::int64_t window_ms, std::int64_t capacity);

  // Events with now_ms - t < window_ms (an event timed after now_ms, from a caller whose clock
  // reading is older than another's, counts too). At most capacity.
  std::int64_t count(std::int64_t now_ms) const noexcept;

  // Adds `amount` (>= 0) events at now_ms, drops events that no longer count at now_ms and
  // keeps the newest `capacity`. A late event (timed before newer ones) is placed in order.
  void add(std::int64_t amount, std::int64_t now_ms);

  // 0 when count(now_ms) < limit. Otherwise the milliseconds until the limit-th newest event
  // leaves the window, after which count < limit if nothing is added: exact, >= 1. A limit
  // <= 0 is never satisfied: the milliseconds until every event has left (at least 1).
  std::int64_t retry_after_ms(std::int64_t limit, std::int64_t now_ms) const noexcept;

  // True when no event counts at now_ms or later: safe to forget.
  bool expired(std::int64_t now_ms) const noexcept;

  // The same events under another window length, as of now_ms (configuration reload). A
  // longer window keeps the times, so each event counts longer. A shorter one moves each time
  // later by the difference, but not past now_ms: an event counts until its old end, or for a
  // whole new window from the reload if that comes first. Nothing counted at the reload stops
  // counting at it.
  sliding_window_log with_window(std::int64_t new_window_ms, std::int64_t now_ms) const;

  // Kept for another limit: a lower one keeps the newest new_capacity times, which decide
  // every check against it; a higher one keeps all, and counts only what was kept (events
  // beyond the old limit were not).
  void set_capacity(std::int64_t new_capacity);

  // A conservative log from a two-window counter (an old record, or a limit lowered onto a
  // key that was estimated): each counted event is placed at the latest time its window
  // allows (no later than now_ms), so the log counts at least as many at every later moment.
  static sliding_window_log from_estimate(const sliding_window_counter& counter, std::int64_t capacity,
                                          std::int64_t now_ms);

  // A two-window counter with every kept event added at its own time (a limit raised above
  // max_exact_limit): exact for the kept events, as late adds count as `previous`.
  sliding_window_counter to_estimate(std::int64_t now_ms) const noexcept;

  // The union of two logs of one key with the same window (merge operator): each time with the
  // larger of its two multiplicities, newest max(capacity) kept. Commutative, associative and
  // idempotent, so states written in any order end where the newest is.
  static sliding_window_log merge(const sliding_window_log& a, const sliding_window_log& b);

  friend bool operator==(const sliding_window_log&, const sliding_window_log&) = default;
};

}  // namespace callsign::storage
