// Issuing HS256 bearer tokens with the shared secret: for `callsign token`, tests and the
// development demo identities. Production callers get tokens from their own identity provider.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "crypto/result.hpp"
#include "server/auth/role.hpp"

namespace callsign::server {

inline constexpr std::int64_t max_token_ttl_seconds = 366LL * 24 * 3600;

// A compact JWS with header {"alg":"HS256","typ":"JWT"} and claims iss, aud, sub, role, iat
// (= now) and exp (= now + ttl_seconds), signed by libjwt. error_kind::invalid_input for a key
// shorter than 32 bytes, an empty issuer or audience, a subject verify() would refuse (1-128
// visible ASCII bytes), or a ttl outside 1..max_token_ttl_seconds. The token is a credential:
// print it where the caller asked, never log it.
result<std::string> mint_hs256_token(std::span<const std::uint8_t> key, std::string_view issuer,
                                     std::string_view audience, role r, std::string_view subject, std::int64_t now,
                                     std::int64_t ttl_seconds);

}  // namespace callsign::server
