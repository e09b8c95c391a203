// A node's cache of user records by id for redis_user_directory (docs/shared-state-redis.md,
// "The cache"). Pub/sub delivers at most once, so the cache holds records only while the
// node's subscriber is known to be up, drops everything when that changes, and drops an id on
// every event or own write about it. A read that raced any drop (the generation moved on while
// it was in flight) is answered but not kept, so a reply older than an event never lands after it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "storage/user_directory.hpp"

namespace callsign::shared_state {

// Thread-safety: one mutex, never held across a callback; any thread.
class user_record_cache {
 public:
  explicit user_record_cache(std::size_t capacity) : capacity_(capacity) {}

  // The cached record, if any; `generation` receives the generation to hand to keep().
  std::optional<storage::stored_user> find(std::string_view id, std::uint64_t& generation) {
    std::lock_guard lock(mutex_);
    generation = generation_;
    if (auto it = by_id_.find(std::string(id)); it != by_id_.end()) {
      return it->second;
    }
    return std::nullopt;
  }

  // Keeps what a read that began at `generation` found, unless anything was dropped since.
  void keep(const storage::stored_user& user, std::uint64_t generation) {
    std::lock_guard lock(mutex_);
    if (!enabled_ || capacity_ == 0 || generation != generation_) {
      return;
    }
    if (by_id_.size() >= capacity_ && by_id_.find(user.record.id) == by_id_.end()) {
      by_id_.erase(by_id_.begin());  // any entry: a shortcut, not an LRU
    }
    by_id_[user.record.id] = user;
  }

  void drop(std::string_view id) {
    std::lock_guard lock(mutex_);
    ++generation_;
    by_id_.erase(std::string(id));
  }

  // The subscriber came up (true) or went down (false): either way events may have been lost.
  void set_events_connected(bool connected) {
    std::lock_guard lock(mutex_);
    ++generation_;
    by_id_.clear();
    enabled_ = connected;
  }

 private:
  const std::size_t capacity_;
  std::mutex mutex_;
  std::unordered_map<std::string, storage::stored_user> by_id_;  // guarded by mutex_
  std::uint64_t generation_ = 0;                                 // guarded by mutex_
  bool enabled_ = false;                                         // guarded by mutex_
};

}  // namespace callsign::shared_state
