// callsignd configuration: a plain struct with defaults, filled from a TOML file, then flags.
// Every bad value stops start-up with a message naming its key.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/result.hpp"
#include "crypto/totp.hpp"
#include "server/config/shared_state_config.hpp"
#include "server/login/login_config.hpp"
#include "server/rules/rules_config.hpp"
#include "server/observability/json_log.hpp"

namespace callsign::server {

struct listen_address {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;
};

result<listen_address> parse_listen_address(std::string_view text);

// Who may call: JWT bearer tokens. In dev mode (or when no key file is named) callsignd creates
// <data_dir>/jwt-hs256.key on first start and accepts HS256 tokens signed with it.
struct auth_config {
  std::string issuer = "callsign";
  std::string audience = "callsign";
  std::int64_t leeway_seconds = 30;
  std::size_t token_cache_entries = 4096;  // verified tokens remembered (digests only); 0 = off
  std::optional<std::filesystem::path> hs256_key_file;         // raw key bytes, >= 32
  std::optional<std::filesystem::path> es256_public_key_file;  // PEM
  std::optional<std::filesystem::path> rs256_public_key_file;  // PEM
};

struct verify_config {
  int authenticator_steps_ahead = 1;  // phone tokens never accept future steps
  std::int64_t window_seconds = 900;  // sliding window for failure counts
  std::int64_t user_failures = 5;
  std::int64_t agent_failures = 30;
  std::int64_t ip_failures = 100;
};

struct audit_config {
  std::int64_t checkpoint_every = 1000;          // entries between signed checkpoints
  std::int64_t checkpoint_interval_seconds = 60;  // or this long, whichever comes first
  std::int64_t retention_seconds = 0;             // prune entries older than this; 0 keeps every entry
};

struct authenticator_config {
  std::string issuer = "callsign";  // shown by authenticator apps
  crypto::totp_params params;       // SHA1, 6 digits, 30 s: what every app supports
};

// GET /v1/stream (WebSocket): see docs/stream.md.
struct stream_config {
  std::size_t max_connections_per_user = 5;
  std::size_t max_connections = 10'000;             // subscribed streams, all users
  std::chrono::milliseconds auth_timeout{5'000};    // first message must be the auth message
  std::chrono::milliseconds idle_timeout{60'000};   // ping after half of it, close after all of it
  std::chrono::milliseconds write_timeout{10'000};  // a write stuck this long closes the stream
  std::size_t max_message_bytes = 4096;             // largest client message
  std::size_t outbox_messages = 16;                 // queued non-token messages per stream
  std::vector<std::string> allowed_origins;         // browser Origins allowed to upgrade
};

// Master key rotation (callsign keys rotate): see docs/operations.md.
struct keys_config {
  // After a rotation, verify still accepts phone tokens of the previous key version for this
  // long, counted from the new version's creation time in master.key. 0: never.
  std::int64_t rotation_overlap_seconds = 3600;
};

// [lists]: the four account-takeover lists (docs/lists.md). A list without a path reads
// <data_dir>/lists/<name>.<ipset|txt|set>.
struct list_source_config {
  std::optional<std::filesystem::path> path;
  std::chrono::seconds refresh_interval{3600};  // 0 = only on reload/SIGHUP/upload
  // An http(s) source instead of `path` (docs/lists.md, "URL sources"): fetched into the
  // default path, which then only holds the last good download.
  std::optional<std::string> url;               // validated by parse_list_url; may hold userinfo
  std::optional<std::string> sha256;            // lower-case hex the download must match
  std::optional<std::uint64_t> max_bytes;       // none: the list's upload limit
  std::optional<std::filesystem::path> ca_file;  // none: the system's CAs
  std::chrono::seconds fetch_timeout{300};      // the whole fetch
};

struct lists_config {
  list_source_config open_proxies;
  list_source_config managed_devices;
  list_source_config exposed_credentials;
  list_source_config exposed_passwords;
  // PUT /v1/admin/lists/{name} body limit; the body streams to disk, so this is a disk budget
  // (a 1-billion-entry HIBP set file is about 8 GiB), not memory.
  std::size_t max_upload_bytes = std::size_t{16} << 30;
  // After the first request timeout, an upload must keep up with this many bytes per second
  // (received >= rate x (elapsed - timeout); 0 = no floor): a slow trickle, each read inside the
  // timeout, cannot hold a connection and a file open forever.
  std::uint64_t upload_min_bytes_per_second = 4096;
  // The text lists (open_proxies, managed_devices) are parsed in memory to be validated, so
  // their files (uploaded or reloaded) have this lower cap as well.
  std::size_t max_text_bytes = std::size_t{256} << 20;
};

// [tls]: the optional HTTPS/WSS listener (docs/security.md, "TLS").
enum class tls_version : std::uint8_t { tls1_2, tls1_3 };

struct tls_config {
  bool enabled = false;
  listen_address listen{"127.0.0.1", 8443};
  std::optional<std::filesystem::path> cert_file;  // PEM: the certificate, then its chain
  std::optional<std::filesystem::path> key_file;   // PEM private key, unencrypted
  tls_version min_version = tls_version::tls1_2;
  bool plaintext = true;                            // false: no plain-HTTP listener at all
  std::optional<std::filesystem::path> port_file;  // the bound TLS port is written here
};

struct server_config {
  listen_address listen;
  std::filesystem::path data_dir = "./var";
  std::optional<std::filesystem::path> port_file;
  unsigned io_threads = 0;      // 0 = one per core
  unsigned worker_threads = 2;  // handlers that touch disk
  // Users the embedded backend keeps in memory (filled at start, then as read); 0 = none. About
  // 320 B each when full. On several nodes shared_state.user_cache_entries applies instead.
  std::size_t user_cache_entries = 131072;
  bool dev_mode = false;
  std::filesystem::path web_root = "web";  // pages and web/static/*; relative to the working directory

  std::size_t body_limit = 64 * 1024;
  std::size_t header_limit = 16 * 1024;
  std::chrono::milliseconds request_timeout{10'000};
  std::chrono::milliseconds shutdown_timeout{10'000};
  std::size_t max_connections = 10'000;
  std::size_t max_connections_per_ip = 1'000;

  log_level log_min_level = log_level::info;
  crypto::totp_params phone_token;
  auth_config auth;
  verify_config verify;
  audit_config audit;
  authenticator_config authenticator;
  stream_config stream;
  login_config login;  // [login]: failed-login limits, gate
  keys_config keys;
  lists_config lists;
  tls_config tls;
  shared_state_config shared_state;  // [shared_state]: embedded (default) or redis
  rules_config rules;                // [rules]: the login rules' file (docs/rules.md)
};

// Parses TOML text over the defaults. `source` names the file in error messages.
result<server_config> parse_config(std::string_view toml_text, std::string_view source);
result<server_config> load_config_file(const std::filesystem::path& path);

// Command-line flags of callsignd; each overrides the config file.
struct command_line {
  std::optional<std::filesystem::path> config_file;
  std::optional<std::filesystem::path> data_dir;
  std::optional<std::string> listen;
  std::optional<std::filesystem::path> port_file;
  std::optional<std::filesystem::path> tls_port_file;
  std::optional<unsigned> io_threads;
  bool dev_mode = false;
  bool help = false;
  bool list_routes = false;
};

result<command_line> parse_command_line(const std::vector<std::string_view>& args);
result<server_config> resolve_config(const command_line& cli);
std::string_view command_line_usage() noexcept;

}  // namespace callsign::server
