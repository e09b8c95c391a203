// [shared_state]: the embedded backend (default) or Redis/Valkey (docs/cluster.md). Secrets never
// sit in the config: passwords come from files, read at start-up.
#include <algorithm>

#include "config_toml.hpp"

namespace callsign::server::config_detail {
namespace {

constexpr std::string_view section = "shared_state";

result<redis_endpoint_config> parse_endpoint(std::string_view text, std::string_view key, std::string_view src) {
  auto addr = parse_listen_address(text);
  if (!addr) {
    return config_error(src, key, addr.error().message);
  }
  if (addr->port == 0) {
    return config_error(src, key, "needs a port other than 0");
  }
  return redis_endpoint_config{addr->host, addr->port};
}

bool valid_node_id(std::string_view id) {
  return !id.empty() && id.size() <= 64 && std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
  });
}

result<void> read_milliseconds(const toml::table& t, std::string_view name, std::int64_t lo, std::int64_t hi,
                               std::chrono::milliseconds& out, std::string_view src) {
  std::int64_t value = out.count();
  CALLSIGN_TRY(read_integer(t, section, name, lo, hi, value, src));
  out = std::chrono::milliseconds(value);
  return {};
}

result<void> read_endpoints(const toml::table& t, shared_state_config& out, std::string_view src) {
  const auto* node = t.get("sentinels");
  if (node == nullptr) {
    return {};
  }
  const auto* array = node->as_array();
  if (array == nullptr || array->empty() || array->size() > 16) {
    return config_error(src, "shared_state.sentinels", "must be a list of 1 to 16 \"host:port\" strings");
  }
  for (const auto& item : *array) {
    const auto* text = item.as_string();
    if (text == nullptr) {
      return config_error(src, "shared_state.sentinels", "must be a list of 1 to 16 \"host:port\" strings");
    }
    auto endpoint = parse_endpoint(text->get(), "shared_state.sentinels", src);
    if (!endpoint) {
      return endpoint.error();
    }
    out.sentinels.push_back(*endpoint);
  }
  return {};
}

}  // namespace

result<void> parse_shared_state_section(const toml::table& t, server_config& cfg, std::string_view src) {
  CALLSIGN_TRY(reject_unknown(t, section,
                              {"backend", "node_id", "address", "sentinels", "master_name", "username", "password_file",
                               "sentinel_username", "sentinel_password_file", "tls", "tls_ca_file", "tls_cert_file",
                               "tls_key_file", "tls_server_name", "wait_replicas", "wait_timeout_ms",
                               "connect_timeout_ms", "command_timeout_ms", "retry_after_seconds",
                               "login_signals_when_unavailable", "user_cache_entries"},
                              src));
  auto& out = cfg.shared_state;
  std::optional<std::string> text;
  CALLSIGN_TRY(read_string(t, section, "backend", text, src));
  if (text) {
    if (*text == "embedded") {
      out.backend = shared_state_backend::embedded;
    } else if (*text == "redis") {
      out.backend = shared_state_backend::redis;
    } else {
      return config_error(src, "shared_state.backend", "must be \"embedded\" or \"redis\"");
    }
  }
  text.reset();
  CALLSIGN_TRY(read_string(t, section, "node_id", text, src));
  if (text) {
    if (!valid_node_id(*text)) {
      return config_error(src, "shared_state.node_id", "must be 1 to 64 characters from a-z 0-9 . _ -");
    }
    out.node_id = *text;
  }
  text.reset();
  CALLSIGN_TRY(read_string(t, section, "address", text, src));
  if (text) {
    auto endpoint = parse_endpoint(*text, "shared_state.address", src);
    if (!endpoint) {
      return endpoint.error();
    }
    out.address = *endpoint;
  }
  CALLSIGN_TRY(read_endpoints(t, out, src));
  text.reset();
  CALLSIGN_TRY(read_string(t, section, "master_name", text, src));
  if (text) {
    out.master_name = *text;
  }
  text.reset();
  CALLSIGN_TRY(read_string(t, section, "username", text, src));
  if (text) {
    out.username = *text;
  }
  text.reset();
  CALLSIGN_TRY(read_string(t, section, "sentinel_username", text, src));
  if (text) {
    out.sentinel_username = *text;
  }
  text.reset();
  CALLSIGN_TRY(read_string(t, section, "tls_server_name", text, src));
  if (text) {
    out.tls_server_name = *text;
  }
  CALLSIGN_TRY(read_path(t, section, "password_file", out.password_file, src));
  CALLSIGN_TRY(read_path(t, section, "sentinel_password_file", out.sentinel_password_file, src));
  CALLSIGN_TRY(read_bool(t, section, "tls", out.tls, src));
  CALLSIGN_TRY(read_path(t, section, "tls_ca_file", out.tls_ca_file, src));
  CALLSIGN_TRY(read_path(t, section, "tls_cert_file", out.tls_cert_file, src));
  CALLSIGN_TRY(read_path(t, section, "tls_key_file", out.tls_key_file, src));
  CALLSIGN_TRY(read_integer(t, section, "wait_replicas", 0, 16, out.wait_replicas, src));
  CALLSIGN_TRY(read_milliseconds(t, "wait_timeout_ms", 1, 60'000, out.wait_timeout, src));
  CALLSIGN_TRY(read_milliseconds(t, "connect_timeout_ms", 10, 60'000, out.connect_timeout, src));
  CALLSIGN_TRY(read_milliseconds(t, "command_timeout_ms", 10, 60'000, out.command_timeout, src));
  CALLSIGN_TRY(read_integer(t, section, "user_cache_entries", 0, 10'000'000, out.user_cache_entries, src));
  std::int64_t retry = out.retry_after.count();
  CALLSIGN_TRY(read_integer(t, section, "retry_after_seconds", 1, 3600, retry, src));
  out.retry_after = std::chrono::seconds(retry);
  text.reset();
  CALLSIGN_TRY(read_string(t, section, "login_signals_when_unavailable", text, src));
  if (text) {
    if (*text == "open") {
      out.login_signals = unavailable_policy::fail_open;
    } else if (*text == "closed") {
      out.login_signals = unavailable_policy::fail_closed;
    } else {
      return config_error(src, "shared_state.login_signals_when_unavailable", "must be \"open\" or \"closed\"");
    }
  }

  if (out.backend == shared_state_backend::embedded) {
    return {};
  }
  if (out.node_id.empty()) {
    return config_error(src, "shared_state.node_id", "is required with backend = \"redis\"");
  }
  if (out.address.has_value() == !out.sentinels.empty()) {
    return config_error(src, "shared_state.address",
                        "set either address or sentinels (with master_name) when backend = \"redis\"");
  }
  if (!out.sentinels.empty() && out.master_name.empty()) {
    return config_error(src, "shared_state.master_name", "is required with sentinels");
  }
  if (out.wait_replicas > 0 && out.wait_timeout >= out.command_timeout) {
    // The connection would be reset (failing everything in flight) before WAIT could answer.
    return config_error(src, "shared_state.wait_timeout_ms", "must be below command_timeout_ms");
  }
  if ((out.tls_cert_file.has_value()) != (out.tls_key_file.has_value())) {
    return config_error(src, "shared_state.tls_cert_file", "and tls_key_file go together");
  }
  return {};
}

}  // namespace callsign::server::config_detail
