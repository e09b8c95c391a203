#include "server/config/config.hpp"

#include <algorithm>
#include <charconv>
#include <fstream>
#include <optional>
#include <sstream>

#include "config_toml.hpp"

namespace callsign::server {

using namespace config_detail;

result<listen_address> parse_listen_address(std::string_view text) {
  std::string_view host;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return make_error(error_kind::invalid_input, "must look like [ipv6]:port");
    }
    host = text.substr(1, close - 1);
    port_text = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      return make_error(error_kind::invalid_input, "must look like host:port");
    }
    host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
  }
  unsigned port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (host.empty() || ec != std::errc() || end != port_text.data() + port_text.size() || port > 65535) {
    return make_error(error_kind::invalid_input, "must look like host:port with a port from 0 to 65535");
  }
  return listen_address{std::string(host), static_cast<std::uint16_t>(port)};
}

namespace {
// toml++ 3.3.0 (Debian 12) breaks an internal precondition on a table header whose name
// starts with a character no key can start with ("[&", "[[[a]]]", "[" then a newline): an
// assertion, or undefined behaviour under NDEBUG (upstream marzer/tomlplusplus#294, found by
// tests/fuzz/config_fuzz). Such a line is never valid TOML, so it is refused before toml++
// sees it. The 1-based line number of the first one, if any.
std::optional<std::size_t> bad_table_header_line(std::string_view text) {
  std::size_t line = 1;
  // toml++ skips a UTF-8 byte order mark before the first line.
  const std::size_t first = text.substr(0, 3) == "\xEF\xBB\xBF" ? 3 : 0;
  for (std::size_t start = first; start < text.size(); ++line) {
    const std::size_t end = std::min(text.find('\n', start), text.size());
    std::size_t i = start;
    const auto skip_blanks = [&] {
      while (i < end && (text[i] == ' ' || text[i] == '\t')) ++i;
    };
    skip_blanks();
    if (i < end && text[i] == '[') {
      ++i;
      if (i < end && text[i] == '[') ++i;
      skip_blanks();
      if (i < text.size()) {
        const char c = text[i];
        const bool starts_key = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                                c == '_' || c == '-' || c == '"' || c == '\'' || c == ']';
        if (!starts_key) return line;
      }
    }
    start = end + 1;
  }
  return std::nullopt;
}
}  // namespace

result<server_config> parse_config(std::string_view toml_text, std::string_view source) {
  if (auto line = bad_table_header_line(toml_text)) {
    return make_error(error_kind::invalid_input, std::string(source) + ":" + std::to_string(*line) +
                                                     ": a table header must start with a key");
  }
  auto parsed = toml::parse(toml_text, source);
  if (!parsed) {
    const auto& err = parsed.error();
    return make_error(error_kind::invalid_input, std::string(source) + ":" +
                                                     std::to_string(err.source().begin.line) + ": " +
                                                     std::string(err.description()));
  }
  const toml::table& root = parsed.table();
  server_config cfg;
  CALLSIGN_TRY(reject_unknown(root, "", {"server", "limits", "log", "phone_token", "auth", "verify", "audit",
                                         "authenticator", "stream", "login", "keys", "lists", "tls", "shared_state", "rules"}, source));
  for (std::string_view name : {"server", "limits", "log", "phone_token", "auth", "verify", "audit",
                                "authenticator", "stream", "login", "keys", "lists", "tls", "shared_state", "rules"}) {
    if (root.get(name) != nullptr && section_table(root, name) == nullptr) {
      return config_error(source, name, "must be a table");
    }
  }
  if (const auto* t = section_table(root, "server")) {
    CALLSIGN_TRY(parse_server_section(*t, cfg, source));
  }
  if (const auto* t = section_table(root, "limits")) {
    CALLSIGN_TRY(parse_limits_section(*t, cfg, source));
  }
  if (const auto* t = section_table(root, "log")) {
    CALLSIGN_TRY(parse_log_section(*t, cfg, source));
  }
  if (const auto* t = section_table(root, "phone_token")) {
    CALLSIGN_TRY(parse_phone_token_section(*t, cfg, source));
  }
  if (const auto* t = section_table(root, "auth")) {
    CALLSIGN_TRY(parse_auth_section(*t, cfg, source));
  }
  if (const auto* t = section_table(root, "verify")) {
    CALLSIGN_TRY(parse_verify_section(*t, cfg, source));
  }
  if (const auto* t = section_table(root, "audit")) {
    CALLSIGN_TRY(parse_audit_section(*t, cfg, source));
  }
  if (const auto* t = section_table(root, "authenticator")) {
    CALLSIGN_TRY(parse_authenticator_section(*t, cfg, source));
  }
  if (const auto* t = section_table(root, "stream")) {
    CALLSIGN_TRY(parse_stream_section(*t, cfg, source));
  }
  if (const auto* t = section_table(root, "login")) {
    CALLSIGN_TRY(parse_login_section(*t, cfg, source));
  }
  if (const auto* t = section_table(root, "keys")) {
    CALLSIGN_TRY(parse_keys_section(*t, cfg, source));
  }
  if (const auto* t = section_table(root, "lists")) {
    CALLSIGN_TRY(parse_lists_section(*t, cfg, source));
  }
  if (const auto* t = section_table(root, "tls")) {
    CALLSIGN_TRY(parse_tls_section(*t, cfg, source));
  }
  if (const auto* t = section_table(root, "shared_state")) {
    CALLSIGN_TRY(parse_shared_state_section(*t, cfg, source));
  }
  if (const auto* t = section_table(root, "rules")) {
    CALLSIGN_TRY(parse_rules_section(*t, cfg, source));
  }
  return cfg;
}

result<server_config> load_config_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return make_error(error_kind::invalid_input, "cannot read config file " + path.string());
  }
  std::ostringstream text;
  text << in.rdbuf();
  return parse_config(text.str(), path.string());
}

}  // namespace callsign::server
