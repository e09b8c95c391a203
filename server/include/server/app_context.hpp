// Everything route handlers share: config, clock, storage, keys, log, metrics.
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <memory>
#include <mutex>

#include "crypto/key_ring.hpp"
#include "server/config/config.hpp"
#include "server/login/login_gate.hpp"
#include "server/login/login_limits.hpp"
#include "server/observability/json_log.hpp"
#include "server/observability/metrics.hpp"
#include "server/verification/verify_metrics.hpp"
#include "storage/audit_journal.hpp"
#include "storage/authenticator_directory.hpp"
#include "storage/blocking_pool.hpp"
#include "storage/block_directory.hpp"
#include "storage/blocks.hpp"
#include "storage/change_set.hpp"
#include "storage/clock.hpp"
#include "storage/code_attempts.hpp"
#include "storage/database.hpp"
#include "storage/login_attempts.hpp"
#include "storage/login_counts.hpp"
#include "storage/user_directory.hpp"

namespace callsign::server {

class token_verifier;
class stream_hub;
class list_registry;
class rule_registry;
class cluster_link;
class audit_view;
class live_series;

// Thread-safety: members are either immutable after start-up or thread-safe themselves.
struct app_context {
  app_context(server_config cfg, json_log& logger, const storage::clock& time_source, storage::database& database,
              crypto::key_ring ring)
      : config(std::move(cfg)), log(logger), clock(time_source), db(database), keys(std::move(ring)) {}

  server_config config;
  json_log& log;
  const storage::clock& clock;
  storage::database& db;
  crypto::key_ring keys;
  storage::commit_sink* writer = nullptr;  // durable change sets (audit + state)
  const token_verifier* verifier = nullptr;
  // The asynchronous, versioned directories (storage/user_directory.hpp) and the one-operation
  // attempt backends (storage/code_attempts.hpp, login_attempts.hpp).
  storage::user_directory* user_directory = nullptr;
  storage::authenticator_directory* authenticator_directory = nullptr;
  storage::code_attempts* attempts = nullptr;
  storage::login_attempts* login_attempts = nullptr;
  // The failure counts login rules read (rate.login_failures.*, storage/login_counts.hpp).
  storage::login_counts* login_counts = nullptr;
  // Where the embedded backends wait for the disk (GET /metrics counts its tasks).
  const storage::blocking_pool* disk_pool = nullptr;
  const storage::audit_journal* journal = nullptr;
  stream_hub* streams = nullptr;  // GET /v1/stream subscribers; null when not serving
  // The admin console (docs/admin-console.md): GET /v1/admin/stream subscribers (null when not
  // serving), the per-second series they are sent, and the verify outcomes those read.
  stream_hub* admin_streams = nullptr;
  live_series* live = nullptr;
  verify_metrics verify_counts;
  // Failed-login limits and blocks (issue 5); null when not set up.
  storage::blocks* blocks = nullptr;
  // The admin's list and lift (embedded: over `blocks`; shared: in Redis).
  storage::block_directory* block_admin = nullptr;
  const login_limiter* login = nullptr;
  // The open_proxies list for the gate; empty = no list loaded (see login_gate.hpp).
  open_proxy_lookup open_proxies;
  list_registry* lists = nullptr;  // account-takeover lists (docs/lists.md); null when not loaded
  rule_registry* rules = nullptr;  // the login rules (docs/rules.md)

  // Several nodes (docs/cluster.md): the event link, why the shared state is not ready (empty
  // when it is) and its metrics text. Unset with the embedded backend.
  cluster_link* cluster = nullptr;
  // GET /v1/me/audit and GET /v1/audit?user= read a user's entries of every node here
  // (server/cluster/audit_view.hpp) instead of this node's journal.
  const audit_view* cluster_audit = nullptr;
  std::function<std::string()> shared_state_unready;
  std::function<std::string()> shared_state_metrics;

  std::unique_ptr<server::metrics> stats;  // set once the router is complete
  std::atomic<bool> draining{false};
};

}  // namespace callsign::server
