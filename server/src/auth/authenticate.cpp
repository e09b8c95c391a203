#include "server/auth/authenticate.hpp"

#include <string>
#include <string_view>

namespace callsign::server {

result<principal> authenticate(const http_request& request, const token_verifier& verifier, std::int64_t now) {
  const auto header = request.header("authorization");
  if (!header) return make_error(error_kind::unauthorized, "a bearer token is required");
  // RFC 9110: auth-scheme is case-insensitive, then 1*SP, then the token68 credentials.
  std::string_view value = *header;
  const std::size_t space = value.find(' ');
  if (space == std::string_view::npos || !ascii_iequals(value.substr(0, space), "bearer")) {
    return make_error(error_kind::unauthorized, "the Authorization header must use the Bearer scheme");
  }
  value.remove_prefix(space);
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  if (value.empty()) return make_error(error_kind::unauthorized, "a bearer token is required");
  return verifier.verify(value, now);
}

result<void> require_role(const principal& caller, std::initializer_list<role> allowed) {
  for (const role candidate : allowed) {
    if (candidate == caller.role) return {};
  }
  return make_error(error_kind::forbidden,
                    "this operation is not available to the " + std::string(role_name(caller.role)) + " role");
}

}  // namespace callsign::server
