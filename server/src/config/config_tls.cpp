// [tls]: the optional HTTPS/WSS listener. Whether the files hold a usable certificate and key
// is checked at start-up by the net layer (server/src/net/tls_context.cpp), not here.
#include "config_toml.hpp"

namespace callsign::server::config_detail {

result<void> parse_tls_section(const toml::table& t, server_config& cfg, std::string_view src) {
  CALLSIGN_TRY(reject_unknown(t, "tls", {"enabled", "listen", "cert_file", "key_file", "min_version", "plaintext",
                                         "port_file"}, src));
  auto& tls = cfg.tls;
  CALLSIGN_TRY(read_bool(t, "tls", "enabled", tls.enabled, src));
  CALLSIGN_TRY(read_bool(t, "tls", "plaintext", tls.plaintext, src));
  std::optional<std::string> text;
  CALLSIGN_TRY(read_string(t, "tls", "listen", text, src));
  if (text) {
    auto addr = parse_listen_address(*text);
    if (!addr) {
      return config_error(src, "tls.listen", addr.error().message);
    }
    tls.listen = *addr;
  }
  text.reset();
  CALLSIGN_TRY(read_string(t, "tls", "min_version", text, src));
  if (text) {
    if (*text == "1.2") {
      tls.min_version = tls_version::tls1_2;
    } else if (*text == "1.3") {
      tls.min_version = tls_version::tls1_3;
    } else {
      return config_error(src, "tls.min_version", "must be \"1.2\" or \"1.3\"");
    }
  }
  CALLSIGN_TRY(read_path(t, "tls", "cert_file", tls.cert_file, src));
  CALLSIGN_TRY(read_path(t, "tls", "key_file", tls.key_file, src));
  CALLSIGN_TRY(read_path(t, "tls", "port_file", tls.port_file, src));
  if (tls.enabled && (!tls.cert_file || !tls.key_file)) {
    return config_error(src, "tls.enabled", "needs tls.cert_file and tls.key_file");
  }
  if (!tls.plaintext && !tls.enabled) {
    return config_error(src, "tls.plaintext", "may be false only when tls.enabled is true (no listener would be left)");
  }
  return {};
}

}  // namespace callsign::server::config_detail
