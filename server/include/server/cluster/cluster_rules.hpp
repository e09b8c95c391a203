// This node's login rules in a cluster (docs/cluster.md, "Rules"). The cluster's newest rule file
// lives in Redis (rules_status.hpp) under a revision that only grows, taken by a script that runs
// atomically in Redis. A change made here (PUT, a shadow toggle, a reload of this node's file,
// SIGHUP) is stored there first, then installed here, then announced (`rules` on cs:events);
// other nodes' changes are fetched and installed here on this object's thread (compiling takes
// time, and the Redis client's thread must never wait), and every second the revision is
// checked, so a missed event or a node that was down catches up. Each node's status is kept in
// cs:rules:nodes for GET /v1/admin/rules. Asio-free: Redis is reached through redis::client.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "redis/client.hpp"
#include "server/cluster/cluster_link.hpp"
#include "server/cluster/rules_status.hpp"
#include "server/lists/list_registry.hpp"
#include "server/observability/json_log.hpp"
#include "server/rules/rule_registry.hpp"
#include "storage/change_set.hpp"
#include "storage/clock.hpp"
#include "storage/completion.hpp"

namespace callsign::server {

// Thread-safety: every member may be called from any thread except the Redis client's (install
// and reload wait for Redis). Construct once the rule file is loaded (the constructor adopts the
// cluster's file, or stores this node's when Redis has none); destroy before the
// registries, the link and the client: it detaches from the link and joins its thread.
class cluster_rules {
 public:
  // `poll`: how often the cluster's revision is checked. `timeout`: the longest wait for Redis.
  cluster_rules(rule_registry& rules, list_registry& lists, cluster_link& link, redis::client& client, json_log& log,
                storage::commit_sink* writer, const storage::clock& clock,
                std::chrono::milliseconds poll = std::chrono::milliseconds(1000),
                std::chrono::milliseconds timeout = std::chrono::milliseconds(5000));
  ~cluster_rules();
  cluster_rules(const cluster_rules&) = delete;
  cluster_rules& operator=(const cluster_rules&) = delete;

  // PUT /v1/admin/rules, a shadow toggle: compiles `text` (a refusal changes nothing anywhere);
  // stores it in Redis as the next revision, installs it here, announces it. When Redis cannot
  // store it, `unavailable` and nothing is installed anywhere. Text this node serves already at
  // the cluster's revision is `unchanged`, without a store.
  rules_outcome install(std::string_view text);
  // POST /v1/admin/rules/reload, SIGHUP: this node's file, installed as install() does.
  rules_outcome reload();

  // Every node's status and the cluster's revision, in one round trip; `done` runs on the
  // client's thread.
  void read(storage::completion<cluster_rules_statuses> done);

  // The cluster revision this node serves (0: none yet).
  std::uint64_t applied_revision() const;

 private:
  result<std::uint64_t> store(std::string_view text, std::string_view sha256, std::uint64_t restore_at);
  result<std::vector<redis::reply>> call(std::vector<redis::command> commands);
  void queue_sync();
  void run();
  void sync(bool fetch);
  void adopt(const cluster_rule_file& latest);
  void publish_status();

  rule_registry& rules_;
  list_registry& lists_;
  cluster_link& link_;
  redis::client& client_;
  json_log& log_;
  storage::commit_sink* writer_;
  const storage::clock& clock_;
  std::chrono::milliseconds poll_;
  std::chrono::milliseconds timeout_;
  // Set by a failed status publish's completion (possibly after this object is gone).
  std::shared_ptr<std::atomic<bool>> publish_failed_ = std::make_shared<std::atomic<bool>>(false);

  mutable std::mutex install_mutex_;  // one store-and-install at a time, so revisions install in order
  std::uint64_t applied_ = 0;          // guarded by install_mutex_
  std::uint64_t refused_ = 0;          // the last revision this node refused to compile; guarded too
  bool synced_once_ = false;           // guarded by install_mutex_
  std::string published_status_;       // guarded by install_mutex_
  std::uint64_t published_epoch_ = 0;  // guarded by install_mutex_

  std::mutex mutex_;
  std::condition_variable wake_;
  bool fetch_ = false;     // an event asks for the full file (the start fetched it); guarded by mutex_
  bool stopping_ = false;  // guarded by mutex_
  std::thread thread_;     // started after the first sync
};

}  // namespace callsign::server
