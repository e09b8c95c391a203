// Who a caller is: the role claim of their bearer token and its subject. See docs/auth.md.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

namespace callsign::server {

// customer: sub is the user id. agent: support staff, sub is the agent id. service: a login
// front-end. admin: manages users and reads the audit journal.
enum class role { customer, agent, service, admin };

// Exact, case-sensitive names as they appear in the "role" claim.
std::optional<role> parse_role(std::string_view name) noexcept;
std::string_view role_name(role r) noexcept;

// A token subject: 1-128 bytes of visible ASCII (0x21-0x7e), safe in logs, keys and audit
// entries. Routes apply their own stricter rules (a customer's sub must be a valid user id).
bool valid_subject(std::string_view subject) noexcept;

// An authenticated caller. A plain value: copy it into whatever needs it.
struct principal {
  server::role role = server::role::customer;
  std::string subject;  // the token's "sub": 1-128 bytes of visible ASCII
  // exp + auth.leeway_seconds (unix seconds): from then on the token is refused. A stream that
  // outlives the request checks it (docs/stream.md); max = not from a token.
  std::int64_t valid_until = std::numeric_limits<std::int64_t>::max();
};

}  // namespace callsign::server
