#include "server/cluster/shared_state_node.hpp"

#include <charconv>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <future>
#include <mutex>
#include <sstream>
#include <thread>

#include "redis/client.hpp"
#include "server/observability/metrics.hpp"
#include "server/cluster/checkpoint_exchange.hpp"
#include "server/cluster/key_ring_check.hpp"
#include "cluster/guarded_blocks.hpp"
#include "shared_state/attempt_functions.hpp"
#include "shared_state/directory_functions.hpp"
#include "shared_state/redis_attempts.hpp"
#include "shared_state/redis_authenticator_directory.hpp"
#include "shared_state/redis_blocks.hpp"
#include "shared_state/redis_login_counts.hpp"
#include "shared_state/redis_user_directory.hpp"
#include "storage/block_cache.hpp"

namespace callsign::server {
namespace {

// How long start() waits for the first connection before giving up.
constexpr std::chrono::seconds first_connection_wait{30};

result<std::string> read_secret_file(const std::optional<std::filesystem::path>& path, std::string_view key) {
  if (!path) {
    return std::string();
  }
  std::ifstream in(*path, std::ios::binary);
  if (!in) {
    return make_error(error_kind::invalid_input, "cannot read [shared_state] " + std::string(key));
  }
  std::ostringstream text;
  text << in.rdbuf();
  std::string secret = text.str();
  while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r' || secret.back() == ' ')) {
    secret.pop_back();
  }
  if (secret.empty()) return make_error(error_kind::invalid_input, "[shared_state] " + std::string(key) + " is empty");
  return secret;
}

redis::endpoint endpoint_of(const redis_endpoint_config& e) { return redis::endpoint{e.host, e.port}; }

template <class T>
result<T> wait_for(std::function<void(storage::completion<T>)> call) {
  auto promise = std::make_shared<std::promise<result<T>>>();
  auto future = promise->get_future();
  call([promise](result<T> answer) { promise->set_value(std::move(answer)); });
  return future.get();
}

}  // namespace

struct shared_state_node::parts {
  const server_config& config;
  json_log& log;
  const storage::clock& clock;
  storage::block_cache cache;
  shared_state::redis_operation_counts attempt_counts;
  shared_state::directory_round_trips directory_counts;
  std::unique_ptr<redis::client> client;
  std::unique_ptr<cluster_link> link;
  std::unique_ptr<shared_state::redis_code_attempts> code_attempts;
  std::unique_ptr<shared_state::redis_login_attempts> login_attempts;
  std::unique_ptr<shared_state::redis_user_directory> users;
  std::unique_ptr<shared_state::redis_authenticator_directory> authenticators;
  std::unique_ptr<shared_state::redis_block_directory> block_admin;
  std::unique_ptr<shared_state::redis_login_counts> login_counts;
  std::unique_ptr<guarded_blocks> login_blocks;
  std::unique_ptr<checkpoint_exchange> checkpoints;
  std::atomic<bool> was_connected{false};
  std::atomic<bool> wired{false};  // every part exists: callbacks may use them
  // Orders the user cache's subscriber state: the cache serves only while events arrive.
  std::mutex subscribed_mutex;
  bool was_subscribed = false;  // guarded by subscribed_mutex
  std::string writes_refused;   // the last refusal logged (client thread only)

  parts(const server_config& c, json_log& l, const storage::clock& k) : config(c), log(l), clock(k) {}

  // After every (re)connection: events may have been missed while away.
  // Block events keep arriving on the subscriber connection while the list is read on another:
  // the ticket keeps what they change after the request from being overwritten by the list.
  void reload_blocks() {
    const auto ticket = cache.begin_reload();
    block_admin->list(clock.unix_ms(), [this, ticket](result<std::vector<storage::block_entry>> listed) {
      if (!listed) {
        cache.abandon_reload(ticket);
        log.warn("cannot reload blocks from Redis", {{"error", listed.error().message}});
        return;
      }
      cache.replace_all(std::move(*listed), ticket);
    });
  }
};

shared_state_node::shared_state_node(std::unique_ptr<parts> p) : parts_(std::move(p)) {}
shared_state_node::~shared_state_node() { stop(); }

result<std::unique_ptr<shared_state_node>> shared_state_node::start(const server_config& config,
                                                                   const crypto::key_ring& ring,
                                                                   storage::commit_sink& sink,
                                                                   const storage::audit_journal& journal,
                                                                   const storage::clock& clock, json_log& log) {
  const auto& cfg = config.shared_state;
  auto p = std::make_unique<parts>(config, log, clock);
  auto* raw = p.get();

  redis::client_options options;
  for (const auto& s : cfg.sentinels) options.sentinels.push_back(endpoint_of(s));
  options.master_name = cfg.master_name;
  if (cfg.address) options.address = endpoint_of(*cfg.address);
  options.username = cfg.username;
  // Read here so that a missing file stops start-up; the client reads them again at every
  // connection, so a rotated password needs no restart (docs/cluster.md, Password rotation).
  auto password = read_secret_file(cfg.password_file, "password_file");
  if (!password) return password.error();
  options.password = std::move(*password);
  if (cfg.password_file) options.password_file = cfg.password_file->string();
  options.sentinel_username = cfg.sentinel_username;
  auto sentinel_password = read_secret_file(cfg.sentinel_password_file, "sentinel_password_file");
  if (!sentinel_password) return sentinel_password.error();
  options.sentinel_password = std::move(*sentinel_password);
  if (cfg.sentinel_password_file) options.sentinel_password_file = cfg.sentinel_password_file->string();
  options.tls.enabled = cfg.tls;
  if (cfg.tls_ca_file) options.tls.ca_file = cfg.tls_ca_file->string();
  if (cfg.tls_cert_file) options.tls.cert_file = cfg.tls_cert_file->string();
  if (cfg.tls_key_file) options.tls.key_file = cfg.tls_key_file->string();
  options.tls.server_name = cfg.tls_server_name;
  options.connect_timeout = cfg.connect_timeout;
  options.command_timeout = cfg.command_timeout;
  // Readiness follows whether the primary takes writes (a full maxmemory, too few replicas).
  options.write_probe_key = "cs:probe:" + cfg.node_id;

  redis::client_callbacks callbacks;
  callbacks.setup_commands = [raw](const redis::primary_info& primary) {
    std::vector<redis::command> commands{shared_state::load_directory_library()};
    // Last: the fence check, whose reply is the fence in force (ms).
    for (auto& c : shared_state::attempts_setup_commands(primary.run_id, raw->clock.unix_ms())) {
      commands.push_back(std::move(c));
    }
    return commands;
  };
  callbacks.connected = [raw](const redis::primary_info& primary, const std::vector<redis::reply>& replies) {
    const std::int64_t fence = replies.empty() ? 0 : replies.back().integer;
    raw->log.info("connected to the Redis primary",
                  {{"address", primary.address.host + ":" + std::to_string(primary.address.port)},
                   {"epoch", primary.epoch},
                   {"fence_ms", fence}});
    if (raw->wired.load(std::memory_order_acquire)) raw->reload_blocks();
  };
  callbacks.message = [raw](std::string_view channel, std::string_view message) {
    if (raw->wired.load(std::memory_order_acquire)) raw->link->on_message(channel, message);
  };
  callbacks.status_changed = [raw](const redis::client_status& status) {
    if (raw->wired.load(std::memory_order_acquire)) {
      std::lock_guard lock(raw->subscribed_mutex);
      raw->users->events_connected(status.subscribed);
      raw->authenticators->events_connected(status.subscribed);
      // Events published while the subscriber was away are lost: read the blocks again once it
      // is back (the `connected` reload can come before the subscription).
      if (status.subscribed && !raw->was_subscribed) raw->reload_blocks();
      raw->was_subscribed = status.subscribed;
    }
    if (status.writes_refused != raw->writes_refused) {
      if (status.writes_refused.empty()) {
        raw->log.info("the Redis primary takes writes again");
      } else {
        raw->log.warn("the Redis primary refuses writes; verifies and changes answer 503 until it takes them again",
                      {{"error", status.writes_refused}});
      }
      raw->writes_refused = status.writes_refused;
    }
    const bool was = raw->was_connected.exchange(status.connected);
    if (was && !status.connected) {
      raw->log.warn("lost the Redis primary; shared-state requests answer 503 until it is back",
                    {{"error", status.last_error}});
    }
  };
  p->client = redis::client::start(std::move(options), std::move(callbacks),
                                   {std::string(cluster_event_channel)});
  auto& client = *p->client;
  p->link = std::make_unique<cluster_link>(
      cfg.node_id, [&client](std::string channel, std::string message) {
        client.send({"PUBLISH", std::move(channel), std::move(message)});
      },
      p->cache, log);
  const shared_state::redis_write_options writes{cfg.wait_replicas, cfg.wait_timeout.count()};
  const shared_state::directory_options directory{cfg.wait_replicas, cfg.wait_timeout.count()};
  p->code_attempts = std::make_unique<shared_state::redis_code_attempts>(client, writes, &p->attempt_counts);
  p->login_attempts = std::make_unique<shared_state::redis_login_attempts>(client, writes, &p->attempt_counts);
  p->block_admin = std::make_unique<shared_state::redis_block_directory>(client, writes, &p->attempt_counts);
  p->login_counts = std::make_unique<shared_state::redis_login_counts>(client, &p->attempt_counts);
  p->users = std::make_unique<shared_state::redis_user_directory>(client, sink, p->directory_counts, directory,
                                                                 static_cast<std::size_t>(cfg.user_cache_entries));
  p->link->on_user_changed([users = p->users.get()](std::string_view id) { users->user_changed(id); });
  p->authenticators = std::make_unique<shared_state::redis_authenticator_directory>(
      client, sink, p->directory_counts, directory, static_cast<std::size_t>(cfg.user_cache_entries));
  p->users->pair_enrollments(*p->authenticators);
  p->link->on_authenticator_changed(
      [authenticators = p->authenticators.get()](std::string_view id) { authenticators->authenticator_changed(id); });
  p->login_blocks = std::make_unique<guarded_blocks>(p->cache, client,
                                                     cfg.login_signals == unavailable_policy::fail_closed);
  p->wired.store(true, std::memory_order_release);
  {
    std::lock_guard lock(p->subscribed_mutex);
    p->was_subscribed = client.status().subscribed;
    p->users->events_connected(p->was_subscribed);
    p->authenticators->events_connected(p->was_subscribed);
  }
  auto node = std::unique_ptr<shared_state_node>(new shared_state_node(std::move(p)));

  // 1. Redis answers.
  const auto deadline = std::chrono::steady_clock::now() + first_connection_wait;
  while (!client.status().connected) {
    if (std::chrono::steady_clock::now() > deadline) {
      auto status = client.status();
      return make_error(error_kind::unavailable,
                        "cannot reach the Redis primary within 30 s: " +
                            (status.last_error.empty() ? std::string("no answer") : status.last_error));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  // 2. The key ring is the cluster's.
  const auto ids = key_ring_identifiers(ring);
  std::vector<redis::command> commands;
  for (const auto& [version, id] : ids) {
    commands.push_back({"HSETNX", std::string(key_ring_registry_key), std::to_string(version), id});
  }
  commands.push_back({"HGETALL", std::string(key_ring_registry_key)});
  auto replies = wait_for<std::vector<redis::reply>>(
      [&](storage::completion<std::vector<redis::reply>> done) { client.exec(commands, std::move(done)); });
  if (!replies) return replies.error();
  const auto& all = replies->back();
  if (all.type != redis::reply::kind::array || all.elements.size() % 2 != 0) {
    return make_error(error_kind::internal, "unexpected reply to the key-ring check");
  }
  key_ring_ids registered;
  for (std::size_t i = 0; i + 1 < all.elements.size(); i += 2) {
    // A field that is not a key version (another program's, a typo) is refused, never guessed.
    const auto& field = all.elements[i].text;
    std::uint32_t version = 0;
    const auto [end, ec] = std::from_chars(field.data(), field.data() + field.size(), version);
    if (ec != std::errc() || end != field.data() + field.size() || field.empty()) {
      return make_error(error_kind::invalid_input, std::string("the key-ring registry (") +
                                                       std::string(key_ring_registry_key) +
                                                       ") holds a field that is not a key version; fix or delete it");
    }
    registered[version] = all.elements[i + 1].text;
  }
  if (auto same = compare_key_rings(ids, registered); !same) return same.error();
  // 3. This node's copy of the blocks.
  auto listed = wait_for<std::vector<storage::block_entry>>([&](auto done) {
    node->parts_->block_admin->list(clock.unix_ms(), std::move(done));
  });
  if (!listed) return listed.error();
  node->parts_->cache.replace_all(std::move(*listed));
  // 4. Cross-node audit links.
  checkpoint_exchange_options exchange;
  exchange.node_id = cfg.node_id;
  auto checkpoints = checkpoint_exchange::start(exchange, client, sink, journal, ring, clock, log);
  if (!checkpoints) return checkpoints.error();
  node->parts_->checkpoints = std::move(*checkpoints);
  return node;
}

storage::code_attempts& shared_state_node::code_attempts() { return *parts_->code_attempts; }
storage::login_attempts& shared_state_node::login_attempts() { return *parts_->login_attempts; }
storage::user_directory& shared_state_node::users() { return *parts_->users; }
storage::authenticator_directory& shared_state_node::authenticators() { return *parts_->authenticators; }
storage::block_directory& shared_state_node::block_admin() { return *parts_->block_admin; }
storage::login_counts& shared_state_node::login_counts() { return *parts_->login_counts; }
storage::blocks& shared_state_node::login_blocks() { return *parts_->login_blocks; }
cluster_link& shared_state_node::link() { return *parts_->link; }
redis::client& shared_state_node::client() { return *parts_->client; }

std::string shared_state_node::unready_reason() const {
  auto status = parts_->client->status();
  if (status.connected) {
    return status.writes_refused.empty() ? std::string() : "shared state (Redis) refuses writes: " + status.writes_refused;
  }
  return "shared state (Redis) is unreachable" + (status.last_error.empty() ? "" : ": " + status.last_error);
}

std::string shared_state_node::metrics_text() const {
  const auto& p = *parts_;
  std::string out;
  auto status = p.client->status();
  out += "# HELP callsign_redis_connected 1 while the Redis primary connection is up.\n"
         "# TYPE callsign_redis_connected gauge\ncallsign_redis_connected " +
         std::to_string(status.connected ? 1 : 0) + "\n";
  out += "# HELP callsign_redis_writes_refused 1 while the Redis primary refuses this node's probe write (OOM, "
         "NOREPLICAS, ...).\n# TYPE callsign_redis_writes_refused gauge\ncallsign_redis_writes_refused " +
         std::to_string(status.writes_refused.empty() ? 0 : 1) + "\n";
  out += "# HELP callsign_redis_primary_epoch Distinct Redis primaries seen (failovers, restarts).\n"
         "# TYPE callsign_redis_primary_epoch counter\ncallsign_redis_primary_epoch " +
         std::to_string(status.primary.epoch) + "\n";
  out += "# HELP callsign_redis_round_trips_total Round trips to Redis by state operation (docs/cluster.md).\n"
         "# TYPE callsign_redis_round_trips_total counter\n";
  auto line = [&out](std::string_view op, std::uint64_t n) {
    out += "callsign_redis_round_trips_total{operation=\"" + std::string(op) + "\"} " + std::to_string(n) + "\n";
  };
  line("code_settle", p.attempt_counts.settle.load());
  line("login_record", p.attempt_counts.login_record.load());
  line("block_admin", p.attempt_counts.block_admin.load());
  line("login_counts", p.attempt_counts.login_counts.load());
  for (const auto& [op, n] : p.directory_counts.snapshot()) line(op, n);
  line("all", p.client->round_trips());
  {
    const auto waits = p.client->round_trip_latency();
    out += "# HELP callsign_redis_round_trip_seconds Round trips to Redis, from the call to its answer (queue, Redis, "
           "WAIT, reply).\n# TYPE callsign_redis_round_trip_seconds histogram\n";
    std::vector<std::pair<std::string, std::uint64_t>> cumulative;
    for (std::size_t i = 0; i < waits.at_most.size(); ++i) {
      char bound[32];
      std::snprintf(bound, sizeof bound, "%g", redis::latency_histogram::bounds_seconds[i]);
      cumulative.emplace_back(bound, waits.at_most[i]);
    }
    char sum[32];
    std::snprintf(sum, sizeof sum, "%.6f", waits.sum_seconds);
    append_histogram_series(out, "callsign_redis_round_trip_seconds", "", cumulative, waits.count, sum);
  }
  out += "# HELP callsign_user_cache_hits_total User lookups answered from this node's cache (no round trip).\n"
         "# TYPE callsign_user_cache_hits_total counter\ncallsign_user_cache_hits_total " +
         std::to_string(p.directory_counts.user_find_cache_hits.load()) + "\n";
  out += "# HELP callsign_authenticator_cache_hits_total Enrollment lookups answered from this node's cache (no round "
         "trip).\n# TYPE callsign_authenticator_cache_hits_total counter\ncallsign_authenticator_cache_hits_total " +
         std::to_string(p.directory_counts.authenticator_find_cache_hits.load()) + "\n";
  const auto& events = p.link->counts();
  out += "# HELP callsign_cluster_events_total Events on cs:events sent and applied by this node.\n"
         "# TYPE callsign_cluster_events_total counter\n"
         "callsign_cluster_events_total{direction=\"sent\"} " + std::to_string(events.sent.load()) + "\n" +
         "callsign_cluster_events_total{direction=\"applied\"} " + std::to_string(events.applied.load()) + "\n" +
         "callsign_cluster_events_total{direction=\"malformed\"} " + std::to_string(events.malformed.load()) + "\n";
  out += "# HELP callsign_cluster_blocks_cached Blocks in this node's copy.\n"
         "# TYPE callsign_cluster_blocks_cached gauge\ncallsign_cluster_blocks_cached " +
         std::to_string(p.cache.size()) + "\n";
  if (p.checkpoints) {
    auto s = p.checkpoints->stats();
    out += "# HELP callsign_audit_links_total audit.link entries written from other nodes' checkpoints.\n"
           "# TYPE callsign_audit_links_total counter\ncallsign_audit_links_total " +
           std::to_string(s.links_written) + "\n";
  }
  return out;
}

void shared_state_node::stop() {
  if (!parts_) return;
  if (parts_->checkpoints) parts_->checkpoints->stop();
  if (parts_->client) parts_->client->stop();
}

}  // namespace callsign::server
