// A node's cache of user records for redis_user_directory, by id and by normalized email
// (docs/shared-state-redis.md, "The cache"). Pub/sub delivers at most once, so the cache holds
// records only while the node's subscriber is known to be up, drops everything when that
// changes, and drops an id on every event or own write about it. A read that raced any drop (the
// generation moved on while it was in flight) is answered but not kept, so a reply older than an
// event never lands after it. An email answers only through the record it was learned from:
// whatever moves an email from one user to another changes the first user, which drops that
// record and its email with it.
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

  // The cached record whose (normalized) email this is, if any; `generation` as find's.
  std::optional<storage::stored_user> find_by_email(std::string_view email, std::uint64_t& generation) {
    std::lock_guard lock(mutex_);
    generation = generation_;
    const auto named = by_email_.find(std::string(email));
    if (named == by_email_.end()) {
      return std::nullopt;
    }
    const auto it = by_id_.find(named->second);
    if (it == by_id_.end() || it->second.record.email != email) {
      return std::nullopt;  // unreachable while drop and keep pair the two maps; never trusted
    }
    return it->second;
  }

  // Keeps what a read that began at `generation` found, unless anything was dropped since.
  void keep(const storage::stored_user& user, std::uint64_t generation) {
    std::lock_guard lock(mutex_);
    if (!enabled_ || capacity_ == 0 || generation != generation_) {
      return;
    }
    if (by_id_.size() >= capacity_ && by_id_.find(user.record.id) == by_id_.end()) {
      erase_locked(by_id_.begin());  // any entry: a shortcut, not an LRU
    }
    if (auto old = by_id_.find(user.record.id); old != by_id_.end()) {
      erase_locked(old);
    }
    by_id_[user.record.id] = user;
    if (!user.record.email.empty()) {
      by_email_[user.record.email] = user.record.id;
    }
  }

  void drop(std::string_view id) {
    std::lock_guard lock(mutex_);
    ++generation_;
    if (auto it = by_id_.find(std::string(id)); it != by_id_.end()) {
      erase_locked(it);
    }
  }

  // The subscriber came up (true) or went down (false): either way events may have been lost.
  void set_events_connected(bool connected) {
    std::lock_guard lock(mutex_);
    ++generation_;
    by_id_.clear();
    by_email_.clear();
    enabled_ = connected;
  }

 private:
  using record_map = std::unordered_map<std::string, storage::stored_user>;

  // A record and the email entry that names it.
  void erase_locked(record_map::iterator it) {
    if (const auto& email = it->second.record.email; !email.empty()) {
      if (auto named = by_email_.find(email); named != by_email_.end() && named->second == it->first) {
        by_email_.erase(named);
      }
    }
    by_id_.erase(it);
  }

  const std::size_t capacity_;
  std::mutex mutex_;
  record_map by_id_;                                             // guarded by mutex_
  std::unordered_map<std::string, std::string> by_email_;        // email -> id; guarded by mutex_
  std::uint64_t generation_ = 0;                                 // guarded by mutex_
  bool enabled_ = false;                                         // guarded by mutex_
};

}  // namespace callsign::shared_state
