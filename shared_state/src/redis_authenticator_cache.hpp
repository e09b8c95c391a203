// A node's cache of enrollments for redis_authenticator_directory, by user id, absent ones
// included: most users never enroll, and a verify with a wrong code asks whether an app's code
// matches (docs/shared-state-redis.md, "The cache"). The rules are the user cache's
// (redis_user_directory_cache.hpp): entries only while the node's subscriber is known to be up,
// everything dropped when that changes, an id dropped on every authenticator event and every own
// write about it, and a read that raced any drop answered but not kept. Records hold sealed
// secrets only, as Redis does.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "storage/authenticator_directory.hpp"

namespace callsign::shared_state {

// Thread-safety: one mutex, never held across a callback; any thread.
class authenticator_record_cache {
 public:
  explicit authenticator_record_cache(std::size_t capacity) : capacity_(capacity) {}

  // The cached enrollment (version 0 and an empty record: none), if any; `generation` receives
  // the generation to hand to keep().
  std::optional<storage::stored_authenticator> find(std::string_view user_id, std::uint64_t& generation) {
    std::lock_guard lock(mutex_);
    generation = generation_;
    if (auto it = by_id_.find(std::string(user_id)); it != by_id_.end()) {
      return it->second;
    }
    return std::nullopt;
  }

  // Whether a read of `user_id`'s enrollment (any user's when empty) would be kept: the cache
  // is in use and does not hold it; `generation` as find's.
  bool wants(std::string_view user_id, std::uint64_t& generation) {
    std::lock_guard lock(mutex_);
    generation = generation_;
    return enabled_ && capacity_ > 0 && (user_id.empty() || by_id_.find(std::string(user_id)) == by_id_.end());
  }

  // Keeps what a read that began at `generation` found, unless anything was dropped since.
  void keep(std::string_view user_id, const storage::stored_authenticator& found, std::uint64_t generation) {
    std::lock_guard lock(mutex_);
    if (!enabled_ || capacity_ == 0 || generation != generation_) {
      return;
    }
    std::string id(user_id);
    if (by_id_.size() >= capacity_ && by_id_.find(id) == by_id_.end()) {
      by_id_.erase(by_id_.begin());  // any entry: a shortcut, not an LRU
    }
    by_id_[std::move(id)] = found;
  }

  void drop(std::string_view user_id) {
    std::lock_guard lock(mutex_);
    ++generation_;
    by_id_.erase(std::string(user_id));
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
  std::unordered_map<std::string, storage::stored_authenticator> by_id_;  // guarded by mutex_
  std::uint64_t generation_ = 0;                                          // guarded by mutex_
  bool enabled_ = false;                                                  // guarded by mutex_
};

}  // namespace callsign::shared_state
