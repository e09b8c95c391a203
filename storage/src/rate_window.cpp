#include "storage/rate_window.hpp"

#include <algorithm>
#include <tuple>

namespace callsign::storage {

result<void> check_rate_arguments(const rate_limit& limit, std::int64_t now_ms) {
  if (limit.limit < 1 || limit.limit > max_rate_limit) {
    return make_error(error_kind::invalid_input, "rate limit is out of range");
  }
  return check_window_arguments(now_ms, limit.window_ms);
}

rate_window rate_window::empty(const rate_limit& limit, std::int64_t now_ms) {
  if (limit.exact()) {
    return rate_window{sliding_window_log::empty(limit.window_ms, limit.limit), now_ms, false};
  }
  return rate_window{sliding_window_counter::empty(limit.window_ms, now_ms), now_ms, false};
}

std::int64_t rate_window::window_ms() const noexcept {
  return std::visit([](const auto& s) { return s.window_ms; }, state);
}

bool rate_window::fits(const rate_limit& limit) const noexcept {
  return is_log() == limit.exact() && window_ms() == limit.window_ms;
}

void rate_window::adapt(const rate_limit& limit, std::int64_t now_ms) {
  if (auto* log = std::get_if<sliding_window_log>(&state)) {
    if (!limit.exact()) {
      state = log->with_window(limit.window_ms, now_ms).to_estimate(now_ms);
    } else {
      if (log->window_ms != limit.window_ms) *log = log->with_window(limit.window_ms, now_ms);
      if (log->capacity != limit.limit) log->set_capacity(limit.limit);
    }
  } else {
    auto& counter = std::get<sliding_window_counter>(state);
    auto resized = counter.window_ms == limit.window_ms ? counter : counter.with_window(limit.window_ms, now_ms);
    if (limit.exact()) {
      state = sliding_window_log::from_estimate(resized, limit.limit, now_ms);
    } else {
      counter = resized;
    }
  }
  as_of_ms = std::max(as_of_ms, now_ms);
  legacy = false;
}

void rate_window::add(std::int64_t amount, std::int64_t now_ms) {
  std::visit([&](auto& s) { s.add(amount, now_ms); }, state);
  as_of_ms = std::max(as_of_ms, now_ms);
  legacy = false;
}

rate_estimate rate_window::measure(const rate_limit& limit, std::int64_t now_ms) const noexcept {
  rate_estimate out;
  out.at_ms = now_ms;
  out.limit = limit.limit;
  if (const auto* log = std::get_if<sliding_window_log>(&state)) {
    out.exact = true;
    out.value = static_cast<double>(log->count(now_ms));
    out.retry_after_ms = log->retry_after_ms(limit.limit, now_ms);
  } else {
    const auto& counter = std::get<sliding_window_counter>(state);
    out.value = counter.estimate(now_ms);
    // Whole seconds, found with estimate() itself so a retry after them is admitted.
    out.retry_after_ms = 1000 * counter.retry_after_seconds(static_cast<double>(limit.limit), now_ms);
  }
  return out;
}

bool rate_window::expired(std::int64_t now_ms) const noexcept {
  return std::visit([now_ms](const auto& s) { return s.expired(now_ms); }, state);
}

rate_window rate_window::merge(const rate_window& a, const rate_window& b) {
  if (a.legacy != b.legacy) {
    return a.legacy ? b : a;
  }
  const std::int64_t as_of = std::max(a.as_of_ms, b.as_of_ms);
  if (a.is_log() == b.is_log() && a.window_ms() == b.window_ms()) {
    if (a.is_log()) {
      return rate_window{sliding_window_log::merge(std::get<sliding_window_log>(a.state),
                                                   std::get<sliding_window_log>(b.state)),
                         as_of, a.legacy};
    }
    const auto& x = std::get<sliding_window_counter>(a.state);
    const auto& y = std::get<sliding_window_counter>(b.state);
    if (x.window_start_ms != y.window_start_ms) {
      auto later = x.window_start_ms > y.window_start_ms ? a : b;
      later.as_of_ms = as_of;
      return later;
    }
    // Same window: counts only grow within it, so the larger of each is the newest.
    auto merged = x;
    merged.previous = std::max(x.previous, y.previous);
    merged.current = std::max(x.current, y.current);
    return rate_window{merged, as_of, a.legacy};
  }
  // A reload changed the window or the kind: the state changed last wins. Format-1 records
  // carry no as_of, and hold estimates only: there the later window start wins.
  const auto rank = [](const rate_window& w) {
    const std::int64_t start =
        w.is_log() ? 0 : std::get<sliding_window_counter>(w.state).window_start_ms;
    return std::make_tuple(w.legacy ? start : w.as_of_ms, w.window_ms(), w.is_log());
  };
  return rank(a) >= rank(b) ? a : b;
}

}  // namespace callsign::storage
