// One rate counter's history, in the shape its limit calls for: an exact log of event times
// (sliding_window_log.hpp) when the limit is small, as for verify throttles and failed-login
// rules, and the two-window estimate (sliding_window.hpp) when it is large, where a log would
// cost memory and bytes per write. Pure value arithmetic shared by every backend; nothing here
// reads a clock. docs/shared-state.md, "Rate counters".
#pragma once

#include <cstdint>
#include <variant>

#include "crypto/result.hpp"
#include "storage/sliding_window.hpp"
#include "storage/sliding_window_log.hpp"

namespace callsign::storage {

// Limits up to this are counted exactly (a log of at most `limit` times per key: 8 KB at
// most in memory); larger ones are estimated, with the worst case of docs/shared-state.md.
inline constexpr std::int64_t max_exact_limit = 1000;
inline constexpr std::int64_t max_rate_limit = std::int64_t{1} << 40;

// "At most `limit` events in any `window_ms`": the limit-th event is accepted, the next refused.
struct rate_limit {
  std::int64_t limit = 1;
  std::int64_t window_ms = 1;

  bool exact() const noexcept { return limit <= max_exact_limit; }
};

// invalid_input unless 1 <= limit <= max_rate_limit and check_window_arguments passes.
result<void> check_rate_arguments(const rate_limit& limit, std::int64_t now_ms);

// A count as of one moment against one limit, with what Retry-After needs.
struct rate_estimate {
  double value = 0.0;            // events in the window ending at at_ms: exact, or the estimate
  std::int64_t at_ms = 0;
  std::int64_t limit = 0;        // the limit retry_after_ms was worked out for
  std::int64_t retry_after_ms = 0;  // 0 when value < limit; else until value < limit (no new events)
  bool exact = false;            // counted by the log
};

// A value: copy it freely; not synchronised. Functions expect arguments that passed
// check_rate_arguments.
struct rate_window {
  std::variant<sliding_window_log, sliding_window_counter> state;
  std::int64_t as_of_ms = 0;  // the latest time it was changed at: orders states of other shapes
  bool legacy = false;        // decoded from the format-1 record; any newer-format state supersedes it

  static rate_window empty(const rate_limit& limit, std::int64_t now_ms);

  bool is_log() const noexcept { return std::holds_alternative<sliding_window_log>(state); }
  std::int64_t window_ms() const noexcept;

  // True when it can be measured against `limit` as it is: same kind and same window.
  bool fits(const rate_limit& limit) const noexcept;

  // The same history in the shape `limit` calls for, as of now_ms (configuration reload, or an
  // old record): windows change as sliding_window_log::with_window and
  // sliding_window_counter::with_window say, a log for a lower limit keeps its newest times, and
  // a change of kind converts conservatively (sliding_window_log::from_estimate / to_estimate).
  // A log for a raised limit counts only the times it kept, at most the old limit.
  void adapt(const rate_limit& limit, std::int64_t now_ms);

  // Adds amount (>= 0) events at now_ms; the result is no longer legacy.
  void add(std::int64_t amount, std::int64_t now_ms);

  // The count at now_ms against `limit`; expects fits(limit).
  rate_estimate measure(const rate_limit& limit, std::int64_t now_ms) const noexcept;

  bool expired(std::int64_t now_ms) const noexcept;

  // The merge operator's rule for two stored states of one key, order-independent:
  //   - a legacy state loses to any other;
  //   - two logs with one window: their union (sliding_window_log::merge);
  //   - two estimates with one window: the later window start, or within one window the larger
  //     of each count;
  //   - otherwise (a reload changed the window or kind): the later as_of_ms, then the longer
  //     window, then the log.
  static rate_window merge(const rate_window& a, const rate_window& b);
};

}  // namespace callsign::storage
