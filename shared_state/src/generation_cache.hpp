// The rules both Redis directory caches follow (docs/shared-state-redis.md, "The cache"), in one
// place: entries by user id, held only while the node's subscriber is known to be up; everything
// dropped when that changes (events may have been lost); an id dropped on every event or own write
// about it; and a read that raced any drop (the generation moved on while it was in flight)
// answered but not kept, so a reply older than an event never lands after it. An `Index` sees
// every entry kept and erased under the same lock (the user cache's emails); no_index sees none.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

namespace callsign::shared_state {

struct no_index {
  template <class Value>
  void kept(const std::string&, const Value&) {}
  template <class Value>
  void erased(const std::string&, const Value&) {}
  void cleared() {}
};

// Thread-safety: one mutex, never held across a callback; any thread.
template <class Value, class Index = no_index>
class generation_cache {
 public:
  using map = std::unordered_map<std::string, Value>;

  explicit generation_cache(std::size_t capacity) : capacity_(capacity) {}

  // The cached value, if any; `generation` receives the generation to hand to keep().
  std::optional<Value> find(std::string_view id, std::uint64_t& generation) {
    std::lock_guard lock(mutex_);
    generation = generation_;
    if (auto it = by_id_.find(std::string(id)); it != by_id_.end()) {
      return it->second;
    }
    return std::nullopt;
  }

  // lookup(index, entries) under the lock, for a find by something the index keeps.
  template <class Lookup>
  std::optional<Value> find_indexed(Lookup&& lookup, std::uint64_t& generation) {
    std::lock_guard lock(mutex_);
    generation = generation_;
    return std::forward<Lookup>(lookup)(std::as_const(index_), std::as_const(by_id_));
  }

  // Whether a read of `id` (of any id when empty) would be kept: the cache is in use and does
  // not hold it; `generation` as find's.
  bool wants(std::string_view id, std::uint64_t& generation) {
    std::lock_guard lock(mutex_);
    generation = generation_;
    return enabled_ && capacity_ > 0 && (id.empty() || by_id_.find(std::string(id)) == by_id_.end());
  }

  // Keeps what a read that began at `generation` found, unless anything was dropped since.
  void keep(const std::string& id, const Value& value, std::uint64_t generation) {
    std::lock_guard lock(mutex_);
    if (!enabled_ || capacity_ == 0 || generation != generation_) {
      return;
    }
    if (by_id_.size() >= capacity_ && by_id_.find(id) == by_id_.end()) {
      erase_locked(by_id_.begin());  // any entry: a shortcut, not an LRU
    }
    if (auto old = by_id_.find(id); old != by_id_.end()) {
      erase_locked(old);
    }
    auto [it, added] = by_id_.emplace(id, value);
    index_.kept(it->first, it->second);
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
    index_.cleared();
    enabled_ = connected;
  }

 private:
  void erase_locked(typename map::iterator it) {
    index_.erased(it->first, it->second);
    by_id_.erase(it);
  }

  const std::size_t capacity_;
  std::mutex mutex_;
  map by_id_;                     // guarded by mutex_
  Index index_;                   // guarded by mutex_
  std::uint64_t generation_ = 0;  // guarded by mutex_
  bool enabled_ = false;          // guarded by mutex_
};

}  // namespace callsign::shared_state
