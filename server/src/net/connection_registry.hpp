// Open connections, so shutdown can cancel the idle ones, and how many each peer address
// holds, for the per-address cap. Private to the net layer.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace callsign::server::net_detail {

// Thread-safety: all members may be called concurrently.
template <class Connection>
class connection_registry {
 public:
  // Registers conn for `address` unless that address already holds `per_address_cap`
  // connections (then nullopt and nothing changes). The check and the count are one step, so
  // concurrent accepts cannot overshoot the cap.
  std::optional<std::uint64_t> add(const std::shared_ptr<Connection>& conn, const std::string& address,
                                   std::size_t per_address_cap) {
    std::lock_guard lock(mutex_);
    auto& held = per_address_[address];
    if (held >= per_address_cap) {
      if (held == 0) per_address_.erase(address);
      return std::nullopt;
    }
    ++held;
    auto id = next_id_++;
    open_.emplace(id, entry{conn, address});
    return id;
  }

  void remove(std::uint64_t id) {
    std::lock_guard lock(mutex_);
    auto found = open_.find(id);
    if (found == open_.end()) return;
    auto held = per_address_.find(found->second.address);
    if (held != per_address_.end() && --held->second == 0) per_address_.erase(held);
    open_.erase(found);
  }

  std::size_t size() const {
    std::lock_guard lock(mutex_);
    return open_.size();
  }

  void for_each(const std::function<void(const std::shared_ptr<Connection>&)>& fn) const {
    std::vector<std::shared_ptr<Connection>> alive;
    {
      std::lock_guard lock(mutex_);
      for (const auto& [id, e] : open_) {
        if (auto conn = e.conn.lock()) {
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
  struct entry {
    std::weak_ptr<Connection> conn;
    std::string address;
  };
  std::unordered_map<std::uint64_t, entry> open_;
  std::unordered_map<std::string, std::size_t> per_address_;
};

}  // namespace callsign::server::net_detail
