// A callsignd node's shared state on Redis/Valkey ([shared_state] backend = "redis";
// docs/cluster.md): the client (found through Sentinel or directly), the Redis backends of the
// state interfaces, this node's copy of the blocks, the event link to the other nodes and the
// audit checkpoint exchange. start() returns once Redis answered, the key ring matched the
// cluster's and the blocks were loaded, or an error saying which of these failed.
#pragma once

#include <memory>
#include <string>

#include "crypto/key_ring.hpp"
#include "crypto/result.hpp"
#include "server/cluster/cluster_link.hpp"
#include "server/config/config.hpp"
#include "server/observability/json_log.hpp"
#include "storage/audit_journal.hpp"
#include "storage/authenticator_directory.hpp"
#include "storage/block_directory.hpp"
#include "storage/blocks.hpp"
#include "storage/change_set.hpp"
#include "storage/clock.hpp"
#include "storage/code_attempts.hpp"
#include "storage/login_attempts.hpp"
#include "storage/login_counts.hpp"
#include "storage/user_directory.hpp"

namespace callsign::redis {
class client;
}

namespace callsign::server {

// Thread-safety: the accessors return thread-safe objects; stop() from the owner's thread.
class shared_state_node {
 public:
  static result<std::unique_ptr<shared_state_node>> start(const server_config& config, const crypto::key_ring& ring,
                                                          storage::commit_sink& sink,
                                                          const storage::audit_journal& journal,
                                                          const storage::clock& clock, json_log& log);
  ~shared_state_node();
  shared_state_node(const shared_state_node&) = delete;
  shared_state_node& operator=(const shared_state_node&) = delete;

  storage::code_attempts& code_attempts();
  storage::login_attempts& login_attempts();
  storage::user_directory& users();
  storage::authenticator_directory& authenticators();
  storage::block_directory& block_admin();
  // rate.login_failures.* from the counters in Redis (one FCALL_RO per request that reads them).
  storage::login_counts& login_counts();
  // The login signals' view of blocks: this node's cache, or `unavailable` while Redis is away
  // when [shared_state] login_signals_when_unavailable = "closed".
  storage::blocks& login_blocks();
  cluster_link& link();
  // The Redis client, for what else this node keeps in Redis (cluster_lists.hpp).
  redis::client& client();

  // Empty when Redis is connected (for /readyz), else why not (no secrets).
  std::string unready_reason() const;
  // Prometheus text: round trips per operation, connection state, events, checkpoints.
  std::string metrics_text() const;

  // Ends the checkpoint exchange, then the client (pending calls answer `unavailable`).
  void stop();

  struct parts;

 private:
  explicit shared_state_node(std::unique_ptr<parts> p);
  std::unique_ptr<parts> parts_;
};

}  // namespace callsign::server
