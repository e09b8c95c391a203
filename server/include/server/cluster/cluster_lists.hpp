// This node's lists in a cluster (docs/cluster.md, "Lists"). An admin's reload here (POST
// /v1/admin/lists/{name}/reload, SIGHUP) is announced to the other nodes (`lists_reload`), and
// theirs are run here, from this node's own source, on this object's thread (a URL fetch can
// take seconds; the Redis client's thread must never wait). Every status that changed is kept
// in Redis (list_status.hpp), so GET /v1/admin/lists shows each node's version and SHA-256.
// Asio-free: Redis is reached through redis::client's Asio-free interface.
#pragma once

#include <array>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "redis/client.hpp"
#include "server/cluster/cluster_link.hpp"
#include "server/cluster/list_status.hpp"
#include "server/lists/list_registry.hpp"
#include "server/observability/json_log.hpp"
#include "storage/change_set.hpp"
#include "storage/clock.hpp"
#include "storage/completion.hpp"

namespace callsign::server {

// Thread-safety: every member may be called from any thread. Construct once the lists are
// loaded (the start-up statuses are published then); destroy at shutdown, before the registry,
// the link and the client: it detaches from the link and stops the registry's fetches.
class cluster_lists {
 public:
  // `poll`: how often statuses changed by anything else (the periodic refresh, a failed publish,
  // a new Redis primary) are looked for.
  cluster_lists(list_registry& registry, cluster_link& link, redis::client& client, json_log& log,
                storage::commit_sink* writer, const storage::clock& clock,
                std::chrono::milliseconds poll = std::chrono::milliseconds(1000));
  ~cluster_lists();
  cluster_lists(const cluster_lists&) = delete;
  cluster_lists& operator=(const cluster_lists&) = delete;

  // After a reload an admin asked for on this node: publishes its status and, when it
  // succeeded (changed or not), asks every other node to reload the list. Never blocks.
  void reloaded_by_admin(list_id id, const result<reload_outcome>& outcome);
  // Publishes whatever changed since the last publish (after an upload). Never blocks.
  void publish_changes();
  // Every node's statuses, read with one HGETALL; `done` runs on the client's thread.
  void read(storage::completion<cluster_list_statuses> done);

 private:
  void queue_peer_reload(const std::string& list);
  void run();
  void publish(bool everything);

  list_registry& registry_;
  cluster_link& link_;
  redis::client& client_;
  json_log& log_;
  storage::commit_sink* writer_;
  const storage::clock& clock_;
  std::chrono::milliseconds poll_;
  // Set by a failed publish's completion (the client's thread, possibly after this object is
  // gone): everything is published again at the next poll.
  std::shared_ptr<std::atomic<bool>> publish_failed_ = std::make_shared<std::atomic<bool>>(false);
  std::mutex publish_mutex_;  // orders reading a status with sending it
  std::array<std::string, all_lists.size()> published_;  // guarded by publish_mutex_
  std::uint64_t published_epoch_ = 0;                      // guarded by publish_mutex_
  std::mutex mutex_;
  std::condition_variable wake_;
  std::array<bool, all_lists.size()> pending_{};  // peer reloads to run; guarded by mutex_
  bool stopping_ = false;                          // guarded by mutex_
  std::thread thread_;                             // last: starts once the rest exists
};

}  // namespace callsign::server
