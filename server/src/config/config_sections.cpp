// One parser per TOML section; each rejects unknown keys and bad values by name.
#include "config_toml.hpp"

namespace callsign::server::config_detail {

result<void> parse_server_section(const toml::table& t, server_config& cfg, std::string_view src) {
  CALLSIGN_TRY(reject_unknown(t, "server", {"listen", "data_dir", "port_file", "io_threads", "worker_threads",
                                            "user_cache_entries", "dev_mode", "web_root"}, src));
  std::optional<std::string> text;
  CALLSIGN_TRY(read_string(t, "server", "listen", text, src));
  if (text) {
    auto addr = parse_listen_address(*text);
    if (!addr) {
      return config_error(src, "server.listen", addr.error().message);
    }
    cfg.listen = *addr;
  }
  text.reset();
  CALLSIGN_TRY(read_string(t, "server", "data_dir", text, src));
  if (text) {
    if (text->empty()) {
      return config_error(src, "server.data_dir", "must not be empty");
    }
    cfg.data_dir = *text;
  }
  text.reset();
  CALLSIGN_TRY(read_string(t, "server", "port_file", text, src));
  if (text && !text->empty()) {
    cfg.port_file = *text;
  }
  std::int64_t io = cfg.io_threads;
  std::int64_t workers = cfg.worker_threads;
  CALLSIGN_TRY(read_integer(t, "server", "io_threads", 0, 256, io, src));
  CALLSIGN_TRY(read_integer(t, "server", "worker_threads", 1, 256, workers, src));
  cfg.io_threads = static_cast<unsigned>(io);
  cfg.worker_threads = static_cast<unsigned>(workers);
  auto cached_users = static_cast<std::int64_t>(cfg.user_cache_entries);
  CALLSIGN_TRY(read_integer(t, "server", "user_cache_entries", 0, 10'000'000, cached_users, src));
  cfg.user_cache_entries = static_cast<std::size_t>(cached_users);
  CALLSIGN_TRY(read_bool(t, "server", "dev_mode", cfg.dev_mode, src));
  text.reset();
  CALLSIGN_TRY(read_string(t, "server", "web_root", text, src));
  if (text) {
    if (text->empty()) {
      return config_error(src, "server.web_root", "must not be empty");
    }
    cfg.web_root = *text;
  }
  return {};
}

result<void> parse_limits_section(const toml::table& t, server_config& cfg, std::string_view src) {
  CALLSIGN_TRY(reject_unknown(t, "limits", {"body_bytes", "header_bytes", "request_timeout_ms",
                                            "shutdown_timeout_ms", "max_connections",
                                            "max_connections_per_ip"}, src));
  auto body = static_cast<std::int64_t>(cfg.body_limit);
  auto header = static_cast<std::int64_t>(cfg.header_limit);
  std::int64_t timeout = cfg.request_timeout.count();
  std::int64_t shutdown = cfg.shutdown_timeout.count();
  auto conns = static_cast<std::int64_t>(cfg.max_connections);
  auto per_ip = static_cast<std::int64_t>(cfg.max_connections_per_ip);
  CALLSIGN_TRY(read_integer(t, "limits", "body_bytes", 1024, 1LL << 30, body, src));
  CALLSIGN_TRY(read_integer(t, "limits", "header_bytes", 1024, 1 << 20, header, src));
  CALLSIGN_TRY(read_integer(t, "limits", "request_timeout_ms", 100, 3'600'000, timeout, src));
  CALLSIGN_TRY(read_integer(t, "limits", "shutdown_timeout_ms", 0, 600'000, shutdown, src));
  CALLSIGN_TRY(read_integer(t, "limits", "max_connections", 1, 1'000'000, conns, src));
  CALLSIGN_TRY(read_integer(t, "limits", "max_connections_per_ip", 1, 1'000'000, per_ip, src));
  cfg.body_limit = static_cast<std::size_t>(body);
  cfg.header_limit = static_cast<std::size_t>(header);
  cfg.request_timeout = std::chrono::milliseconds(timeout);
  cfg.shutdown_timeout = std::chrono::milliseconds(shutdown);
  cfg.max_connections = static_cast<std::size_t>(conns);
  cfg.max_connections_per_ip = static_cast<std::size_t>(per_ip);
  return {};
}

result<void> parse_log_section(const toml::table& t, server_config& cfg, std::string_view src) {
  CALLSIGN_TRY(reject_unknown(t, "log", {"level"}, src));
  std::optional<std::string> level;
  CALLSIGN_TRY(read_string(t, "log", "level", level, src));
  if (!level) {
    return {};
  }
  if (*level == "debug") {
    cfg.log_min_level = log_level::debug;
  } else if (*level == "info") {
    cfg.log_min_level = log_level::info;
  } else if (*level == "warn") {
    cfg.log_min_level = log_level::warn;
  } else if (*level == "error") {
    cfg.log_min_level = log_level::error;
  } else {
    return config_error(src, "log.level", "must be one of debug, info, warn, error");
  }
  return {};
}

result<void> parse_phone_token_section(const toml::table& t, server_config& cfg, std::string_view src) {
  CALLSIGN_TRY(reject_unknown(t, "phone_token", {"algorithm", "digits", "period", "t0"}, src));
  std::optional<std::string> algorithm;
  CALLSIGN_TRY(read_string(t, "phone_token", "algorithm", algorithm, src));
  if (algorithm) {
    auto parsed = crypto::parse_hash_algorithm(*algorithm);
    if (!parsed) {
      return config_error(src, "phone_token.algorithm", "must be SHA1, SHA256 or SHA512");
    }
    cfg.phone_token.algorithm = *parsed;
  }
  std::int64_t digits = cfg.phone_token.digits;
  CALLSIGN_TRY(read_integer(t, "phone_token", "digits", 6, 8, digits, src));
  cfg.phone_token.digits = static_cast<int>(digits);
  CALLSIGN_TRY(read_integer(t, "phone_token", "period", 1, 3600, cfg.phone_token.period, src));
  CALLSIGN_TRY(read_integer(t, "phone_token", "t0", 0, 1LL << 40, cfg.phone_token.t0, src));
  return {};
}
result<void> parse_auth_section(const toml::table& t, server_config& cfg, std::string_view src) {
  CALLSIGN_TRY(reject_unknown(t, "auth", {"issuer", "audience", "leeway_seconds", "hs256_key_file",
                                          "es256_public_key_file", "rs256_public_key_file", "token_cache_entries"},
                              src));
  std::optional<std::string> text;
  CALLSIGN_TRY(read_string(t, "auth", "issuer", text, src));
  if (text) {
    if (text->empty()) {
      return config_error(src, "auth.issuer", "must not be empty");
    }
    cfg.auth.issuer = *text;
  }
  text.reset();
  CALLSIGN_TRY(read_string(t, "auth", "audience", text, src));
  if (text) {
    if (text->empty()) {
      return config_error(src, "auth.audience", "must not be empty");
    }
    cfg.auth.audience = *text;
  }
  CALLSIGN_TRY(read_integer(t, "auth", "leeway_seconds", 0, 300, cfg.auth.leeway_seconds, src));
  auto cache_entries = static_cast<std::int64_t>(cfg.auth.token_cache_entries);
  CALLSIGN_TRY(read_integer(t, "auth", "token_cache_entries", 0, 1 << 20, cache_entries, src));
  cfg.auth.token_cache_entries = static_cast<std::size_t>(cache_entries);
  CALLSIGN_TRY(read_path(t, "auth", "hs256_key_file", cfg.auth.hs256_key_file, src));
  CALLSIGN_TRY(read_path(t, "auth", "es256_public_key_file", cfg.auth.es256_public_key_file, src));
  CALLSIGN_TRY(read_path(t, "auth", "rs256_public_key_file", cfg.auth.rs256_public_key_file, src));
  return {};
}

result<void> parse_verify_section(const toml::table& t, server_config& cfg, std::string_view src) {
  CALLSIGN_TRY(reject_unknown(t, "verify", {"authenticator_steps_ahead", "window_seconds", "user_failures",
                                            "agent_failures", "ip_failures"}, src));
  std::int64_t ahead = cfg.verify.authenticator_steps_ahead;
  CALLSIGN_TRY(read_integer(t, "verify", "authenticator_steps_ahead", 0, 2, ahead, src));
  cfg.verify.authenticator_steps_ahead = static_cast<int>(ahead);
  CALLSIGN_TRY(read_integer(t, "verify", "window_seconds", 1, 86'400, cfg.verify.window_seconds, src));
  CALLSIGN_TRY(read_integer(t, "verify", "user_failures", 1, 1'000'000, cfg.verify.user_failures, src));
  CALLSIGN_TRY(read_integer(t, "verify", "agent_failures", 1, 1'000'000, cfg.verify.agent_failures, src));
  CALLSIGN_TRY(read_integer(t, "verify", "ip_failures", 1, 1'000'000, cfg.verify.ip_failures, src));
  return {};
}

result<void> parse_audit_section(const toml::table& t, server_config& cfg, std::string_view src) {
  CALLSIGN_TRY(reject_unknown(t, "audit", {"checkpoint_every", "checkpoint_interval_seconds", "retention_seconds"}, src));
  CALLSIGN_TRY(read_integer(t, "audit", "checkpoint_every", 1, 1'000'000, cfg.audit.checkpoint_every, src));
  CALLSIGN_TRY(read_integer(t, "audit", "checkpoint_interval_seconds", 1, 86'400,
                            cfg.audit.checkpoint_interval_seconds, src));
  // 0 (keep every entry) or up to 100 years.
  CALLSIGN_TRY(read_integer(t, "audit", "retention_seconds", 0, 3'153'600'000, cfg.audit.retention_seconds, src));
  return {};
}

result<void> parse_authenticator_section(const toml::table& t, server_config& cfg, std::string_view src) {
  CALLSIGN_TRY(reject_unknown(t, "authenticator", {"issuer"}, src));
  std::optional<std::string> text;
  CALLSIGN_TRY(read_string(t, "authenticator", "issuer", text, src));
  if (text) {
    if (text->empty() || text->find(':') != std::string::npos) {
      return config_error(src, "authenticator.issuer", "must be non-empty and contain no ':'");
    }
    cfg.authenticator.issuer = *text;
  }
  return {};
}

result<void> parse_stream_section(const toml::table& t, server_config& cfg, std::string_view src) {
  CALLSIGN_TRY(reject_unknown(t, "stream", {"max_connections_per_user", "max_connections", "auth_timeout_ms",
                                            "idle_timeout_ms", "write_timeout_ms", "max_message_bytes",
                                            "outbox_messages", "allowed_origins"}, src));
  auto& s = cfg.stream;
  auto per_user = static_cast<std::int64_t>(s.max_connections_per_user);
  auto total = static_cast<std::int64_t>(s.max_connections);
  std::int64_t auth = s.auth_timeout.count();
  std::int64_t idle = s.idle_timeout.count();
  std::int64_t write = s.write_timeout.count();
  auto message = static_cast<std::int64_t>(s.max_message_bytes);
  auto outbox = static_cast<std::int64_t>(s.outbox_messages);
  CALLSIGN_TRY(read_integer(t, "stream", "max_connections_per_user", 1, 1000, per_user, src));
  CALLSIGN_TRY(read_integer(t, "stream", "max_connections", 1, 1'000'000, total, src));
  CALLSIGN_TRY(read_integer(t, "stream", "auth_timeout_ms", 100, 60'000, auth, src));
  CALLSIGN_TRY(read_integer(t, "stream", "idle_timeout_ms", 1000, 3'600'000, idle, src));
  CALLSIGN_TRY(read_integer(t, "stream", "write_timeout_ms", 100, 600'000, write, src));
  CALLSIGN_TRY(read_integer(t, "stream", "max_message_bytes", 256, 1 << 20, message, src));
  CALLSIGN_TRY(read_integer(t, "stream", "outbox_messages", 1, 1024, outbox, src));
  s.max_connections_per_user = static_cast<std::size_t>(per_user);
  s.max_connections = static_cast<std::size_t>(total);
  s.auth_timeout = std::chrono::milliseconds(auth);
  s.idle_timeout = std::chrono::milliseconds(idle);
  s.write_timeout = std::chrono::milliseconds(write);
  s.max_message_bytes = static_cast<std::size_t>(message);
  s.outbox_messages = static_cast<std::size_t>(outbox);
  if (const auto* node = t.get("allowed_origins")) {
    const auto* list = node->as_array();
    if (list == nullptr) {
      return config_error(src, "stream.allowed_origins", "must be an array of strings");
    }
    s.allowed_origins.clear();
    for (const auto& item : *list) {
      const auto* text = item.as_string();
      if (text == nullptr || text->get().empty()) {
        return config_error(src, "stream.allowed_origins", "must be an array of non-empty strings");
      }
      s.allowed_origins.push_back(text->get());
    }
  }
  return {};
}

result<void> parse_keys_section(const toml::table& t, server_config& cfg, std::string_view src) {
  CALLSIGN_TRY(reject_unknown(t, "keys", {"rotation_overlap_seconds"}, src));
  CALLSIGN_TRY(read_integer(t, "keys", "rotation_overlap_seconds", 0, 7 * 86'400, cfg.keys.rotation_overlap_seconds,
                            src));
  return {};
}

}  // namespace callsign::server::config_detail
