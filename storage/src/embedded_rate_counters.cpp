#include "storage/embedded_rate_counters.hpp"

#include <algorithm>
#include <mutex>
#include <string>

#include "storage/shared_state_format.hpp"
#include "striped_map.hpp"

namespace callsign::storage {

struct embedded_rate_counters::state {
  detail::striped_map<sliding_window_counter> counters;
};

namespace {

using counter_map = detail::striped_map<sliding_window_counter>;

result<void> check_arguments(std::string_view key, std::int64_t now_ms, std::int64_t window_ms) {
  if (key.empty() || key.size() > max_rate_key) {
    return make_error(error_kind::invalid_input, "rate key must be 1 to " + std::to_string(max_rate_key) + " bytes");
  }
  return check_window_arguments(now_ms, window_ms);
}

// Finds the key's counter, loading it from RocksDB on a miss (absent = no events yet). The
// stripe lock is released during the read; on return it is held again and an entry another
// thread inserted meanwhile wins, being at least as new as what was read. A counter leaves
// memory only once expired, when every version of it on disk is expired as well.
result<sliding_window_counter*> find_or_load(database& db, counter_map::stripe& s, std::unique_lock<std::mutex>& lock,
                                             std::string_view key, std::int64_t now_ms, std::int64_t window_ms) {
  if (auto it = s.entries.find(key); it != s.entries.end()) {
    return &it->second;
  }
  lock.unlock();
  auto stored = db.get(column_family::counters, sliding_window_record_key(key));
  lock.lock();
  if (!stored) {
    return stored.error();
  }
  auto loaded = sliding_window_counter::empty(window_ms, now_ms);
  if (stored->has_value()) {
    auto decoded = decode_sliding_window(**stored);
    if (!decoded) {
      return decoded.error();
    }
    loaded = *decoded;
  }
  auto [it, inserted] = s.entries.try_emplace(std::string(key), loaded);
  return &it->second;
}

sliding_window_counter in_window(const sliding_window_counter& counter, std::int64_t now_ms, std::int64_t window_ms) {
  return counter.window_ms == window_ms ? counter : counter.with_window(window_ms, now_ms);
}

}  // namespace

embedded_rate_counters::embedded_rate_counters(database& db) : db_(db), state_(std::make_unique<state>()) {}

embedded_rate_counters::~embedded_rate_counters() = default;

result<rate_estimate> embedded_rate_counters::estimate(std::string_view key, std::int64_t now_ms,
                                                       std::int64_t window_ms) {
  if (auto ok = check_arguments(key, now_ms, window_ms); !ok) {
    return ok.error();
  }
  auto& s = state_->counters.stripe_for(key);
  std::unique_lock lock(s.mutex);
  auto slot = find_or_load(db_, s, lock, key, now_ms, window_ms);
  if (!slot) {
    return slot.error();
  }
  // A different window is applied to a copy only: estimates never change what is stored.
  const auto counter = in_window(**slot, now_ms, window_ms);
  counter_map::sweep_expired_if_due(s, now_ms);
  return rate_estimate{counter.estimate(now_ms), now_ms, counter};
}

result<rate_estimate> embedded_rate_counters::add(std::string_view key, std::int64_t amount, std::int64_t now_ms,
                                                  std::int64_t window_ms, change_set& changes) {
  if (auto ok = check_arguments(key, now_ms, window_ms); !ok) {
    return ok.error();
  }
  if (amount < 0) {
    return make_error(error_kind::invalid_input, "amount must not be negative");
  }
  auto& s = state_->counters.stripe_for(key);
  std::unique_lock lock(s.mutex);
  auto slot = find_or_load(db_, s, lock, key, now_ms, window_ms);
  if (!slot) {
    return slot.error();
  }
  auto counter = in_window(**slot, now_ms, window_ms);
  counter.add(amount, now_ms);
  // Append first: if that allocation throws, memory is unchanged.
  changes.merge(column_family::counters, sliding_window_record_key(key), encode_sliding_window(counter));
  **slot = counter;
  counter_map::sweep_expired_if_due(s, now_ms);
  return rate_estimate{counter.estimate(now_ms), now_ms, counter};
}

std::size_t embedded_rate_counters::sweep(std::int64_t now_ms) {
  std::size_t dropped = 0;
  for (auto& s : state_->counters.stripes()) {
    std::lock_guard lock(s.mutex);
    dropped += counter_map::sweep_expired(s, now_ms);
  }
  return dropped;
}

std::size_t embedded_rate_counters::cached_counters() {
  return state_->counters.size();
}

}  // namespace callsign::storage
