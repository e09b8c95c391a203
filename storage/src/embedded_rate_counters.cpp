#include "storage/embedded_rate_counters.hpp"

#include <algorithm>
#include <atomic>
#include <limits>
#include <mutex>
#include <optional>
#include <string>

#include "storage/shared_state_format.hpp"
#include "striped_map.hpp"

namespace callsign::storage {

struct embedded_rate_counters::state {
  detail::striped_map<rate_window> counters;
  // The now_ms of the first call. Every event this object counted since then is in memory until
  // it expires, so a key missing from memory can only be live on disk when its events are older
  // than this (written by a previous process, not loaded yet).
  std::atomic<std::int64_t> first_call_ms{std::numeric_limits<std::int64_t>::min()};
  // Set once load_live has read every live counter on disk into memory: from then on a key
  // missing from memory has no live events anywhere.
  std::atomic<bool> all_loaded{false};

  // True when a key missing from memory has no live events at now_ms: its window (two windows
  // for an estimate, which also weighs the previous one) reaches back no earlier than the
  // first call, so nothing on disk can still count. A clock that went back answers false.
  bool misses_are_empty(std::int64_t now_ms, const rate_limit& limit) {
    if (all_loaded.load(std::memory_order_acquire)) {
      return true;
    }
    auto first = first_call_ms.load(std::memory_order_relaxed);
    if (first == std::numeric_limits<std::int64_t>::min()) {
      first_call_ms.compare_exchange_strong(first, now_ms, std::memory_order_relaxed);
      first = first_call_ms.load(std::memory_order_relaxed);
    }
    return now_ms - first > 2 * limit.window_ms;
  }
};

namespace {

using counter_map = detail::striped_map<rate_window>;

result<void> check_arguments(std::string_view key, std::int64_t now_ms, const rate_limit& limit) {
  if (key.empty() || key.size() > max_rate_key) {
    return make_error(error_kind::invalid_input, "rate key must be 1 to " + std::to_string(max_rate_key) + " bytes");
  }
  return check_rate_arguments(limit, now_ms);
}

// Finds the key's counter, loading it from RocksDB on a miss (absent = no events yet). The
// stripe lock is released during the read; on return it is held again and an entry another
// thread inserted meanwhile wins, being at least as new as what was read. A counter leaves
// memory only once expired, when every version of it on disk is expired as well.
result<rate_window*> find_or_load(database& db, counter_map::stripe& s, std::unique_lock<std::mutex>& lock,
                                  std::string_view key, std::int64_t now_ms, const rate_limit& limit) {
  if (auto it = s.entries.find(key); it != s.entries.end()) {
    return &it->second;
  }
  lock.unlock();
  auto stored = db.get(column_family::counters, sliding_window_record_key(key));
  lock.lock();
  if (!stored) {
    return stored.error();
  }
  auto loaded = rate_window::empty(limit, now_ms);
  if (stored->has_value()) {
    auto decoded = decode_rate_window(**stored);
    if (!decoded) {
      return decoded.error();
    }
    loaded = std::move(*decoded);
  }
  auto [it, inserted] = s.entries.try_emplace(std::string(key), std::move(loaded));
  return &it->second;
}

}  // namespace

embedded_rate_counters::embedded_rate_counters(database& db) : db_(db), state_(std::make_unique<state>()) {}

embedded_rate_counters::~embedded_rate_counters() = default;

void embedded_rate_counters::started_at(std::int64_t now_ms) noexcept {
  auto unset = std::numeric_limits<std::int64_t>::min();
  state_->first_call_ms.compare_exchange_strong(unset, now_ms, std::memory_order_relaxed);
}

result<rate_estimate> embedded_rate_counters::estimate(std::string_view key, std::int64_t now_ms,
                                                       const rate_limit& limit) {
  if (auto ok = check_arguments(key, now_ms, limit); !ok) {
    return ok.error();
  }
  const bool misses_are_empty = state_->misses_are_empty(now_ms, limit);
  auto& s = state_->counters.stripe_for(key);
  std::unique_lock lock(s.mutex);
  if (misses_are_empty && s.entries.find(key) == s.entries.end()) {
    // Nothing live for this key anywhere: answer without a disk read (a login check's rules read
    // counts of addresses that never failed) and without keeping an empty entry.
    return rate_window::empty(limit, now_ms).measure(limit, now_ms);
  }
  auto slot = find_or_load(db_, s, lock, key, now_ms, limit);
  if (!slot) {
    return slot.error();
  }
  rate_estimate out;
  if ((*slot)->fits(limit)) {
    out = (*slot)->measure(limit, now_ms);
  } else {
    // Another window or kind is applied to a copy only: estimates never change what is stored.
    auto adapted = **slot;
    adapted.adapt(limit, now_ms);
    out = adapted.measure(limit, now_ms);
  }
  counter_map::sweep_expired_if_due(s, now_ms);
  return out;
}

result<rate_estimate> embedded_rate_counters::add(std::string_view key, std::int64_t amount, std::int64_t now_ms,
                                                  const rate_limit& limit, change_set& changes) {
  if (auto ok = check_arguments(key, now_ms, limit); !ok) {
    return ok.error();
  }
  if (amount < 0) {
    return make_error(error_kind::invalid_input, "amount must not be negative");
  }
  const bool misses_are_empty = state_->misses_are_empty(now_ms, limit);  // also notes the first call
  auto& s = state_->counters.stripe_for(key);
  std::unique_lock lock(s.mutex);
  result<rate_window*> slot = nullptr;
  if (auto it = s.entries.find(key); it != s.entries.end()) {
    slot = &it->second;
  } else if (misses_are_empty) {
    // Nothing live on disk for it (see estimate): a first failure starts from empty, unread.
    slot = &s.entries.try_emplace(std::string(key), rate_window::empty(limit, now_ms)).first->second;
  } else {
    slot = find_or_load(db_, s, lock, key, now_ms, limit);
  }
  if (!slot) {
    return slot.error();
  }
  // Changed in place (no copy of the log per call). Should the encoding below throw, the event
  // still counts in memory, as when a commit fails; the next add persists the whole state.
  auto& counter = **slot;
  counter.adapt(limit, now_ms);
  counter.add(amount, now_ms);
  changes.merge(column_family::counters, sliding_window_record_key(key), encode_rate_window(counter));
  const auto out = counter.measure(limit, now_ms);
  counter_map::sweep_expired_if_due(s, now_ms);
  return out;
}

result<std::size_t> embedded_rate_counters::load_live(std::int64_t now_ms) {
  std::size_t loaded = 0;
  std::optional<error> failed;
  const std::string prefix(1, sliding_window_key_prefix);
  // One snapshot: a record written after it belongs to a counter this process changed, which is
  // in memory until it expires, so nothing live is missed.
  auto scanned = db_.scan(column_family::counters, database::scan_direction::forward, prefix,
                          [&](std::string_view record_key, std::string_view value) {
                            if (record_key.empty() || record_key[0] != sliding_window_key_prefix) {
                              return false;
                            }
                            auto decoded = decode_rate_window(value);
                            if (!decoded) {
                              failed = decoded.error();
                              return false;
                            }
                            if (decoded->expired(now_ms)) {
                              return true;
                            }
                            const auto key = record_key.substr(1);
                            auto& s = state_->counters.stripe_for(key);
                            std::lock_guard lock(s.mutex);
                            if (s.entries.try_emplace(std::string(key), std::move(*decoded)).second) {
                              ++loaded;
                            }
                            return true;
                          });
  if (!scanned) {
    return scanned.error();
  }
  if (failed) {
    return *failed;
  }
  state_->all_loaded.store(true, std::memory_order_release);
  return loaded;
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
