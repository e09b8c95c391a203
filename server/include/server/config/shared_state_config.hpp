// [shared_state]: where callsignd keeps the state several nodes must share (issue 18,
// docs/cluster.md). "embedded" (the default) keeps it in the node's RocksDB; "redis" keeps it in
// Redis/Valkey, found directly or through Sentinel.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace callsign::server {

enum class shared_state_backend : std::uint8_t { embedded, redis };

// What the login signals (gate, login/check) do about limits and blocks while Redis is
// unreachable: answer from the node's block cache as it was ("open": nothing new is refused,
// the default, so a Redis outage does not lock every customer out), or refuse ("closed").
enum class unavailable_policy : std::uint8_t { fail_open, fail_closed };

struct redis_endpoint_config {
  std::string host;
  std::uint16_t port = 6379;
};

struct shared_state_config {
  shared_state_backend backend = shared_state_backend::embedded;
  std::string node_id;  // [a-z0-9._-]{1,64}; required with redis: names the node in journals and lists
  // Either one address, or sentinels and the name of the primary they watch.
  std::optional<redis_endpoint_config> address;
  std::vector<redis_endpoint_config> sentinels;
  std::string master_name;
  std::string username;                                // ACL user, optional
  std::optional<std::filesystem::path> password_file;  // the password, never in the config itself
  std::string sentinel_username;
  std::optional<std::filesystem::path> sentinel_password_file;
  bool tls = false;
  std::optional<std::filesystem::path> tls_ca_file;  // none: the system CAs
  std::optional<std::filesystem::path> tls_cert_file;
  std::optional<std::filesystem::path> tls_key_file;
  std::string tls_server_name;
  std::int64_t wait_replicas = 1;  // WAIT for this many replicas before acknowledging a change
  std::chrono::milliseconds wait_timeout{1000};  // a loaded replica can take a few hundred ms; then 503
  std::chrono::milliseconds connect_timeout{1000};
  std::chrono::milliseconds command_timeout{2000};
  std::chrono::seconds retry_after{2};  // Retry-After of a 503 while Redis is unreachable
  // User records a node keeps, and as many enrollments (or their absence) by user id (dropped on
  // every change event; unused while events cannot arrive): a verify then costs one round trip.
  // 0 = no cache.
  std::int64_t user_cache_entries = 65536;
  unavailable_policy login_signals = unavailable_policy::fail_open;
};

}  // namespace callsign::server
