// What a rule sees of one login attempt: the wirefilter fields of docs/rules.md as plain values.
// The caller fills only the fields a compiled rule set says it reads (rule_set::reads), so an
// unused signal (a credential hash, a counter read) is never computed.
#pragma once

#include <bitset>
#include <cstdint>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "storage/lists/ip_address.hpp"

namespace callsign::rules {

// Every field of the language. Names in docs/rules.md; field_name() gives them.
enum class field : std::uint8_t {
  ip_src,                        // ip.src (IP)
  http_request_uri_path,         // http.request.uri.path (bytes)
  http_request_method,           // http.request.method (bytes)
  http_host,                     // http.host (bytes)
  http_user_agent,               // http.user_agent (bytes)
  http_request_headers,          // http.request.headers["name"] (bytes; map by lower-case name)
  bot_score,                     // bot.score (int; see bot_score below)
  login_username_present,        // login.username_present (bool)
  login_exposed_credential,      // login.exposed_credential (bool)
  login_exposed_password,        // login.exposed_password (bool)
  device_managed,                // device.managed (bool)
  device_serial_present,         // device.serial_present (bool)
  rate_login_failures_ip,        // rate.login_failures.ip (int)
  rate_login_failures_username,  // rate.login_failures.username (int)
  // Only in the counting expressions of rate-limit rules (a reported login outcome):
  login_success,       // login.success (bool)
  http_response_code,  // http.response.code (int; 0 when the front-end did not report one)
  count_
};
inline constexpr std::size_t field_count = static_cast<std::size_t>(field::count_);
using field_mask = std::bitset<field_count>;

std::string_view field_name(field f) noexcept;

// One header as the front-end forwarded it. Names are matched case-insensitively; when a name
// repeats, a rule sees the values joined with ", " (RFC 9110 §5.3) — the caller joins them.
struct header_value {
  std::string_view name;
  std::string_view value;
};

// Thread-safety: a plain value; the views must outlive the evaluation.
struct request_fields {
  std::optional<storage::ip_bytes> ip_src;  // absent: `ip.src in ...` is false, `ip.src == x` false
  std::string_view uri_path;
  std::string_view method;
  std::string_view host;
  std::string_view user_agent;
  std::vector<header_value> headers;
  // From the configured bot-score header; nullopt when absent or not an integer 1..99. Then
  // every comparison on bot.score is false (`bot.score < 30` does not match, `not bot.score <
  // 30` does), and `bot.score in {...}` is false. docs/rules.md says so.
  std::optional<std::int64_t> bot_score;
  bool username_present = false;
  bool exposed_credential = false;
  bool exposed_password = false;
  bool device_managed = false;
  bool device_serial_present = false;
  std::int64_t login_failures_ip = 0;
  std::int64_t login_failures_username = 0;
  bool login_success = false;
  std::int64_t response_code = 0;
};

}  // namespace callsign::rules
