// Open connections, so shutdown can cancel the idle ones. Private to the net layer.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <unordered_map>

namespace callsign::server::net_detail {

// Thread-safety: all members may be called concurrently.
template <class Connection>
class connection_registry {
 public:
  std::uint64_t add(const std::shared_ptr<Connection>& conn) {
    std::lock_guard lock(mutex_);
    auto id = next_id_++;
    open_.emplace(id, conn);
    return id;
  }

  void remove(std::uint64_t id) {
    std::lock_guard lock(mutex_);
    open_.erase(id);
  }

  std::size_t size() const {
    std::lock_guard lock(mutex_);
    return open_.size();
  }

  void for_each(const std::function<void(const std::shared_ptr<Connection>&)>& fn) const {
    std::vector<std::shared_ptr<Connection>> alive;
    {
      std::lock_guard lock(mutex_);
      for (const auto& [id, weak] : open_) {
        if (auto conn = weak.lock()) {
          alive.push_back(std::move(conn));
        }
      }
    }
    for (const auto& conn : alive) {
      fn(conn);
    }
  }

 private:
  mutable std::mutex mutex_;
  std::uint64_t next_id_ = 1;
  std::unordered_map<std::uint64_t, std::weak_ptr<Connection>> open_;
};

}  // namespace callsign::server::net_detail
