#include "storage/sliding_window_log.hpp"

#include <algorithm>
#include <iterator>

namespace callsign::storage {

namespace {

// Events at t count at now while t > now - window; the times are ascending, so the counted
// ones are the suffix from here.
std::vector<std::int64_t>::const_iterator first_counted(const std::vector<std::int64_t>& times, std::int64_t now_ms,
                                                        std::int64_t window_ms) noexcept {
  return std::upper_bound(times.begin(), times.end(), now_ms - window_ms);
}

void keep_newest(std::vector<std::int64_t>& times, std::int64_t capacity) {
  const auto keep = static_cast<std::size_t>(capacity);
  if (times.size() > keep) {
    times.erase(times.begin(), times.end() - static_cast<std::ptrdiff_t>(keep));
  }
}

}  // namespace

sliding_window_log sliding_window_log::empty(std::int64_t window_ms, std::int64_t capacity) {
  return sliding_window_log{window_ms, capacity, {}};
}

std::int64_t sliding_window_log::count(std::int64_t now_ms) const noexcept {
  return std::distance(first_counted(times, now_ms, window_ms), times.end());
}

void sliding_window_log::add(std::int64_t amount, std::int64_t now_ms) {
  // Drop what no longer counts first, so the insert below rarely moves many elements.
  times.erase(times.begin(), first_counted(times, now_ms, window_ms));
  if (amount > 0) {
    const auto copies = static_cast<std::size_t>(std::min(amount, capacity));
    times.insert(std::upper_bound(times.begin(), times.end(), now_ms), copies, now_ms);
  }
  keep_newest(times, capacity);
}

std::int64_t sliding_window_log::retry_after_ms(std::int64_t limit, std::int64_t now_ms) const noexcept {
  if (limit <= 0) {
    return times.empty() ? 1 : std::max<std::int64_t>(times.back() + window_ms - now_ms, 1);
  }
  const auto counted = count(now_ms);
  if (counted < limit) {
    return 0;
  }
  // The limit-th newest event is counted (counted >= limit); once it leaves, limit - 1 remain.
  const auto oldest_that_matters = times[times.size() - static_cast<std::size_t>(limit)];
  return oldest_that_matters + window_ms - now_ms;
}

bool sliding_window_log::expired(std::int64_t now_ms) const noexcept {
  return times.empty() || now_ms - times.back() >= window_ms;
}

sliding_window_log sliding_window_log::with_window(std::int64_t new_window_ms, std::int64_t now_ms) const {
  sliding_window_log next{new_window_ms, capacity, times};
  if (new_window_ms < window_ms) {
    // Later by the difference, so each event leaves when it would have, but no later than
    // now: a reload keeps a failure counting for at most one new window.
    const std::int64_t shift = window_ms - new_window_ms;
    for (auto& t : next.times) {
      t = std::max(t, std::min(t + shift, now_ms));
    }
  }
  return next;
}

void sliding_window_log::set_capacity(std::int64_t new_capacity) {
  capacity = new_capacity;
  keep_newest(times, capacity);
}

sliding_window_log sliding_window_log::from_estimate(const sliding_window_counter& counter, std::int64_t capacity,
                                                     std::int64_t now_ms) {
  const std::int64_t start = counter.window_start_ms;
  const std::int64_t w = counter.window_ms;
  auto log = empty(w, capacity);
  // `previous` happened in [start - w, start): at start - 1 at the latest.
  if (start >= 1 && counter.previous > 0) {
    log.times.assign(static_cast<std::size_t>(std::min(counter.previous, capacity)), start - 1);
  }
  // `current` happened in [start, start + w), and not after now unless now is before start.
  if (counter.current > 0) {
    const std::int64_t latest = std::min(std::max(now_ms, start), start + w - 1);
    log.times.insert(log.times.end(), static_cast<std::size_t>(std::min(counter.current, capacity)), latest);
  }
  log.times.erase(log.times.begin(), first_counted(log.times, now_ms, w));
  keep_newest(log.times, capacity);
  return log;
}

sliding_window_counter sliding_window_log::to_estimate(std::int64_t now_ms) const noexcept {
  auto counter = sliding_window_counter::empty(window_ms, times.empty() ? now_ms : times.front());
  for (const auto t : times) {
    counter.add(1, t);
  }
  return counter;
}

sliding_window_log sliding_window_log::merge(const sliding_window_log& a, const sliding_window_log& b) {
  sliding_window_log out{a.window_ms, std::max(a.capacity, b.capacity), {}};
  out.times.reserve(std::max(a.times.size(), b.times.size()));
  auto i = a.times.begin();
  auto j = b.times.begin();
  while (i != a.times.end() || j != b.times.end()) {
    const std::int64_t t = j == b.times.end() || (i != a.times.end() && *i < *j) ? *i : *j;
    const auto run_a = std::upper_bound(i, a.times.end(), t) - std::lower_bound(i, a.times.end(), t);
    const auto run_b = std::upper_bound(j, b.times.end(), t) - std::lower_bound(j, b.times.end(), t);
    out.times.insert(out.times.end(), static_cast<std::size_t>(std::max(run_a, run_b)), t);
    i += run_a;
    j += run_b;
  }
  keep_newest(out.times, out.capacity);
  return out;
}

}  // namespace callsign::storage
