// Establishing the caller of an HTTP request, and checking its role. Handlers call these first;
// problem.cpp turns the errors into 401 / 403 problem+json.
#pragma once

#include <cstdint>
#include <initializer_list>

#include "crypto/result.hpp"
#include "server/auth/role.hpp"
#include "server/auth/token_verifier.hpp"
#include "server/http/http_types.hpp"

namespace callsign::server {

// Needs "Authorization: Bearer <token>" (scheme case-insensitive, one or more spaces). A
// missing or malformed header, and every verify() failure, is error_kind::unauthorized.
result<principal> authenticate(const http_request& request, const token_verifier& verifier, std::int64_t now);

// error_kind::forbidden unless the principal's role is one of `allowed`.
result<void> require_role(const principal& caller, std::initializer_list<role> allowed);

}  // namespace callsign::server
