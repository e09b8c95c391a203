#include "storage/sliding_window.hpp"

#include <limits>

namespace callsign::storage {

namespace {

std::int64_t window_start_for(std::int64_t now_ms, std::int64_t window_ms) noexcept {
  return now_ms - now_ms % window_ms;  // now_ms >= 0, so this is floor alignment
}

std::int64_t saturating_add(std::int64_t a, std::int64_t b) noexcept {
  if (b > 0 && a > std::numeric_limits<std::int64_t>::max() - b) {
    return std::numeric_limits<std::int64_t>::max();
  }
  return a + b;
}

// count * (window - elapsed) / window, with elapsed clamped to [0, window]. The product is
// formed before the one division, so thresholds such as 10 * 30000 / 60000 are exact.
double weighted(std::int64_t count, std::int64_t elapsed_ms, std::int64_t window_ms) noexcept {
  if (elapsed_ms < 0) {
    elapsed_ms = 0;
  }
  if (elapsed_ms >= window_ms) {
    return 0.0;
  }
  return static_cast<double>(count) * static_cast<double>(window_ms - elapsed_ms) / static_cast<double>(window_ms);
}

}  // namespace

result<void> check_window_arguments(std::int64_t now_ms, std::int64_t window_ms) {
  if (now_ms < 0 || now_ms > max_time_ms) {
    return make_error(error_kind::invalid_input, "time is out of range");
  }
  if (window_ms < 1 || window_ms > max_window_ms) {
    return make_error(error_kind::invalid_input, "window length is out of range");
  }
  return {};
}

sliding_window_counter sliding_window_counter::empty(std::int64_t window_ms, std::int64_t now_ms) noexcept {
  return sliding_window_counter{window_ms, window_start_for(now_ms, window_ms), 0, 0};
}

double sliding_window_counter::estimate(std::int64_t now_ms) const noexcept {
  const std::int64_t elapsed = now_ms - window_start_ms;
  if (elapsed < window_ms) {
    // Current window (or earlier): the previous window still overlaps the sliding window.
    return weighted(previous, elapsed, window_ms) + static_cast<double>(current);
  }
  // One window later, today's "current" is the overlapping previous window; after two it is gone.
  return weighted(current, elapsed - window_ms, window_ms);
}

void sliding_window_counter::add(std::int64_t amount, std::int64_t now_ms) noexcept {
  const std::int64_t start = window_start_for(now_ms, window_ms);
  if (start == window_start_ms + window_ms) {
    previous = current;
    current = 0;
    window_start_ms = start;
  } else if (start > window_start_ms) {
    previous = 0;
    current = 0;
    window_start_ms = start;
  }
  if (start < window_start_ms) {
    previous = saturating_add(previous, amount);
  } else {
    current = saturating_add(current, amount);
  }
}

bool sliding_window_counter::expired(std::int64_t now_ms) const noexcept {
  return (previous == 0 && current == 0) || now_ms - window_start_ms >= 2 * window_ms;
}

sliding_window_counter sliding_window_counter::with_window(std::int64_t new_window_ms,
                                                           std::int64_t now_ms) const noexcept {
  auto next = empty(new_window_ms, now_ms);
  const double carried = estimate(now_ms);
  auto whole = static_cast<std::int64_t>(carried);
  if (static_cast<double>(whole) < carried) {
    ++whole;
  }
  next.current = whole;
  return next;
}

std::int64_t sliding_window_counter::retry_after_seconds(double limit, std::int64_t now_ms) const noexcept {
  if (estimate(now_ms) < limit) {
    return 0;
  }
  // By window_start + 2 * window the estimate is 0, below any positive limit.
  const std::int64_t clear_at = window_start_ms + 2 * window_ms;
  std::int64_t high = (clear_at - now_ms + 999) / 1000;
  if (high < 1) {
    high = 1;
  }
  if (!(limit > 0.0)) {
    return high;
  }
  // Without new events the estimate never rises, so "below the limit after s seconds" is
  // monotone in s: binary search for the smallest such s, evaluated with estimate() itself so
  // the answer agrees exactly with what a later check will see.
  std::int64_t low = 1;
  while (low < high) {
    const std::int64_t mid = low + (high - low) / 2;
    if (estimate(now_ms + 1000 * mid) < limit) {
      high = mid;
    } else {
      low = mid + 1;
    }
  }
  return low;
}

}  // namespace callsign::storage
