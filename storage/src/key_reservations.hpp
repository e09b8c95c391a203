// Per-key write serialization of the embedded directories ("u:" id, "e:" email, "a:" id): a
// write holds its keys from the read of the record until the commit sink has made it durable.
// A write whose keys are held waits, holding nothing, and goes on once they are free, so waiters
// never deadlock; no thread blocks meanwhile.
#pragma once

#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

namespace callsign::storage {

// Thread-safety: one mutex, never held while `then` runs; any thread.
class key_reservations {
 public:
  // Takes all of `keys` at once and runs `then`: inline when they are free, else on the thread
  // that frees the last of them (release).
  void acquire(std::vector<std::string> keys, std::function<void()> then) {
    {
      std::lock_guard lock(mutex_);
      for (const auto& key : keys) {
        if (held_.count(key) != 0) {
          waiting_[key].emplace_back(std::move(keys), std::move(then));
          return;
        }
      }
      held_.insert(keys.begin(), keys.end());
    }
    then();
  }

  // Takes `keys` only if all are free now (a write that already holds keys must not wait).
  bool try_acquire(const std::vector<std::string>& keys) {
    std::lock_guard lock(mutex_);
    for (const auto& key : keys) {
      if (held_.count(key) != 0) return false;
    }
    held_.insert(keys.begin(), keys.end());
    return true;
  }

  // Frees `keys`, then lets the writes that waited for them try again, on this thread.
  void release(const std::vector<std::string>& keys) {
    std::vector<std::pair<std::vector<std::string>, std::function<void()>>> woken;
    {
      std::lock_guard lock(mutex_);
      for (const auto& key : keys) {
        held_.erase(key);
        auto it = waiting_.find(key);
        if (it == waiting_.end()) continue;
        for (auto& waiter : it->second) woken.push_back(std::move(waiter));
        waiting_.erase(it);
      }
    }
    for (auto& [waiter_keys, then] : woken) acquire(std::move(waiter_keys), std::move(then));
  }

 private:
  std::mutex mutex_;
  std::unordered_set<std::string> held_;
  std::unordered_map<std::string, std::deque<std::pair<std::vector<std::string>, std::function<void()>>>> waiting_;
};

}  // namespace callsign::storage
