// One node's end of the cluster's event channel (docs/cluster.md, "Events"): announces what this
// node did that other nodes' clients must see, and applies what other nodes announce: verify
// and authenticator notices to local dashboards, blocks to the local block cache, list reloads,
// a new cluster rule file (fetched and installed elsewhere: cluster_rules.hpp).
// Asio-free: sending is a function (a Redis PUBLISH in callsignd, a recorder in tests).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>

#include "server/cluster/cluster_event.hpp"
#include "server/observability/json_log.hpp"
#include "storage/block_cache.hpp"

namespace callsign::server {

class stream_hub;
class cluster_lists;
class cluster_rules;

struct cluster_link_counts {
  std::atomic<std::uint64_t> sent{0};
  std::atomic<std::uint64_t> applied{0};
  std::atomic<std::uint64_t> malformed{0};
};

// Thread-safety: every member may be called from any thread. on_message is called from the
// Redis client's thread and never blocks: a list reload is handed to `reload_list`, which must
// run it elsewhere.
class cluster_link {
 public:
  using publisher = std::function<void(std::string channel, std::string message)>;

  cluster_link(std::string node_id, publisher publish, storage::block_cache& blocks, json_log& log);

  const std::string& node_id() const noexcept { return node_id_; }

  // Local dashboards (set while serving; null before and after).
  // Detaching waits for a notice being handed to the hub, so the hub may be destroyed after.
  void attach_hub(stream_hub* hub) {
    std::lock_guard lock(hub_mutex_);
    hub_ = hub;
  }
  // Runs a reload of the named list on another thread; clearing it waits for an event being
  // handed over, so its target may be destroyed after.
  void on_list_reload(std::function<void(std::string list)> reload) {
    std::lock_guard lock(reload_mutex_);
    reload_list_ = std::move(reload);
  }
  // Fetches and installs the cluster's newest rule file on another thread (cluster_rules);
  // clearing it waits for an event being handed over, so its target may be destroyed after.
  void on_rules_installed(std::function<void(std::uint64_t revision)> fetch) {
    std::lock_guard lock(rules_mutex_);
    rules_installed_ = std::move(fetch);
  }
  // This node's rules in the cluster, for the rules routes and SIGHUP; null before and after.
  void attach_rules(cluster_rules* rules) noexcept { rules_.store(rules, std::memory_order_release); }
  cluster_rules* rules() const noexcept { return rules_.load(std::memory_order_acquire); }
  // Called with the id of every changed user, so a cached record goes (set before events arrive).
  void on_user_changed(std::function<void(std::string_view id)> changed) { user_changed_ = std::move(changed); }
  // Called with the user id of every changed enrollment, so a cached one goes (set before
  // events arrive).
  void on_authenticator_changed(std::function<void(std::string_view user)> changed) {
    authenticator_changed_ = std::move(changed);
  }
  // This node's lists in the cluster (cluster_lists.hpp), for the list routes; null before and
  // after serving.
  void attach_lists(cluster_lists* lists) noexcept { lists_.store(lists, std::memory_order_release); }
  cluster_lists* lists() const noexcept { return lists_.load(std::memory_order_acquire); }

  void announce_verified(std::string_view user, std::string_view agent, std::string_view method, std::int64_t at);
  void announce_authenticator(std::string_view user, std::string_view state, std::int64_t at);
  void announce_lists_reload(std::string_view list);
  void announce_rules(std::uint64_t revision, std::string_view sha256);

  void on_message(std::string_view channel, std::string_view message);

  const cluster_link_counts& counts() const noexcept { return counts_; }

 private:
  void announce(const cluster_event& event);

  std::string node_id_;
  publisher publish_;
  storage::block_cache& blocks_;
  json_log& log_;
  std::mutex hub_mutex_;
  stream_hub* hub_ = nullptr;  // guarded by hub_mutex_
  std::mutex reload_mutex_;
  std::function<void(std::string)> reload_list_;  // guarded by reload_mutex_
  std::function<void(std::string_view)> user_changed_;  // set before events arrive, then only read
  std::function<void(std::string_view)> authenticator_changed_;  // likewise
  std::atomic<cluster_lists*> lists_{nullptr};
  std::mutex rules_mutex_;
  std::function<void(std::uint64_t)> rules_installed_;  // guarded by rules_mutex_
  std::atomic<cluster_rules*> rules_{nullptr};
  cluster_link_counts counts_;
};

}  // namespace callsign::server
