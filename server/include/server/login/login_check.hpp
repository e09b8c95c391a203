// The signals of POST /v1/login/check as one plain function over the lists' snapshot and the
// failed-login limiter, so tests can check every combination without sockets.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "crypto/result.hpp"
#include "server/lists/list_snapshot.hpp"
#include "server/login/ip_address.hpp"
#include "server/login/login_limits.hpp"

namespace callsign::server {

// Longest password accepted for the exposed-credential checks (bytes).
inline constexpr std::size_t max_login_password = 1024;

// Exposed-Credential-Check values, as a front-end passes them to its origin.
inline constexpr int exposed_check_none = 0;
inline constexpr int exposed_check_pair = 1;      // the username/password pair is exposed
inline constexpr int exposed_check_password = 4;  // the password alone is exposed

struct login_check_input {
  ip_address address;
  std::optional<std::string_view> normalized_username;  // normalize_login_username()
  std::optional<std::string_view> password;
  std::optional<std::string_view> device_serial;
};

struct login_signals {
  bool open_proxy = false;
  bool exposed_credential = false;
  bool exposed_password = false;
  bool managed_device = false;
  bool blocked = false;
  std::int64_t retry_after_seconds = 0;
  std::string blocked_by_rule;  // when blocked: the rate-limit rule that set the block
  std::string user_key;         // the username's keyed hash (login_limiter::username_key), when given
  // The same under the previous key version, within a rotation's horizon (never logged): the
  // username's rate field adds that key's count.
  std::string previous_user_key;
  int exposed_credential_check = exposed_check_none;
};

// `lists` may be null (no lists configured): every list signal is then false. Nothing here
// copies the password or the username; the caller wipes its buffers.
result<login_signals> evaluate_login_check(const list_snapshot* lists, const login_limiter& limiter,
                                           const login_check_input& input, std::int64_t now_ms);

}  // namespace callsign::server
