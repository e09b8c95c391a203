#include "server/config.hpp"

#include <charconv>
#include <fstream>
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

result<server_config> parse_config(std::string_view toml_text, std::string_view source) {
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
                                         "authenticator", "stream", "login", "keys", "lists"}, source));
  for (std::string_view name : {"server", "limits", "log", "phone_token", "auth", "verify", "audit",
                                "authenticator", "stream", "login", "keys", "lists"}) {
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
