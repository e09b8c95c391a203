// Private to config*.cpp: toml++ (header-only, no exceptions) and small typed readers whose
// errors name the key ("limits.body_bytes must be an integer").
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <string_view>

// Debian's libtomlplusplus is built with exceptions; callsign uses the header-only,
// exception-free build in every TU that includes toml++ (the macros must match everywhere).
#define TOML_HEADER_ONLY 1
#define TOML_EXCEPTIONS 0
#include <toml++/toml.h>

#include "server/config/config.hpp"

#define CALLSIGN_TRY(expr)        \
  do {                            \
    if (auto r_ = (expr); !r_) {  \
      return r_.error();          \
    }                             \
  } while (false)

namespace callsign::server::config_detail {

error config_error(std::string_view source, std::string_view key, std::string_view problem);

// Each reader leaves `out` alone when the key is absent.
result<void> read_integer(const toml::table& table, std::string_view section, std::string_view name,
                          std::int64_t lo, std::int64_t hi, std::int64_t& out, std::string_view source);
result<void> read_string(const toml::table& table, std::string_view section, std::string_view name,
                         std::optional<std::string>& out, std::string_view source);
result<void> read_bool(const toml::table& table, std::string_view section, std::string_view name, bool& out,
                       std::string_view source);
result<void> read_path(const toml::table& t, std::string_view section, std::string_view name,
                       std::optional<std::filesystem::path>& out, std::string_view src);
result<void> reject_unknown(const toml::table& table, std::string_view section,
                            const std::set<std::string_view>& known, std::string_view source);
const toml::table* section_table(const toml::table& root, std::string_view name);

result<void> parse_server_section(const toml::table& t, server_config& cfg, std::string_view src);
result<void> parse_limits_section(const toml::table& t, server_config& cfg, std::string_view src);
result<void> parse_log_section(const toml::table& t, server_config& cfg, std::string_view src);
result<void> parse_phone_token_section(const toml::table& t, server_config& cfg, std::string_view src);
result<void> parse_auth_section(const toml::table& t, server_config& cfg, std::string_view src);
result<void> parse_verify_section(const toml::table& t, server_config& cfg, std::string_view src);
result<void> parse_audit_section(const toml::table& t, server_config& cfg, std::string_view src);
result<void> parse_authenticator_section(const toml::table& t, server_config& cfg, std::string_view src);
result<void> parse_stream_section(const toml::table& t, server_config& cfg, std::string_view src);
result<void> parse_login_section(const toml::table& t, server_config& cfg, std::string_view src);
result<void> parse_keys_section(const toml::table& t, server_config& cfg, std::string_view src);
result<void> parse_lists_section(const toml::table& t, server_config& cfg, std::string_view src);
result<void> parse_shared_state_section(const toml::table& t, server_config& cfg, std::string_view src);
result<void> parse_rules_section(const toml::table& t, server_config& cfg, std::string_view src);
result<void> parse_tls_section(const toml::table& t, server_config& cfg, std::string_view src);

}  // namespace callsign::server::config_detail
