// [login]: failed-login rate limits and the nginx gate. docs/login-limits.md.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "server/login/ip_address.hpp"

namespace callsign::server {

// What a rule counts failures by. ip: an IPv4 address or an IPv6 /64. username: the keyed
// hash of the normalized username. ip_username: both together.
enum class login_key_kind { ip, username, ip_username };

std::string_view login_key_kind_name(login_key_kind kind) noexcept;  // "ip", "username", "ip+username"

struct login_rule {
  std::string name;  // [a-z0-9._-], 1-64 bytes, unique; shown in blocks, logs and audit
  login_key_kind kind = login_key_kind::ip;
  std::int64_t limit = 5;  // failures in the window that trip the rule
  std::int64_t window_seconds = 60;
  std::int64_t block_seconds = 3600;
  bool shadow = false;  // trips are logged, counted and audited, but never block
};

// The default: 5 failures in 60 s block the address (or the username) for an hour.
std::vector<login_rule> default_login_rules();

struct login_config {
  std::vector<login_rule> rules = default_login_rules();
  // [[login.rules]] was written in the config: a rule file's [[rate_limit]] rules then refuse to
  // load (one place for the limits; docs/rules.md, "Rate-limit rules").
  bool rules_given = false;
  // Peers whose X-Forwarded-For / X-Real-IP the gate believes (e.g. the nginx in front).
  std::vector<ip_network> trusted_proxies;
  // GET /v1/login/gate answers 403 for an address on the open_proxies list.
  bool gate_block_open_proxies = false;
};

}  // namespace callsign::server
