// Unpadded base64url (RFC 4648 section 5), as JWS compact serialisation uses it. Private to
// server/src/auth: the verifier decodes the JOSE header itself before libjwt sees the token.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace callsign::server::auth_detail {

// Strict: only [A-Za-z0-9_-], no padding, no length of 1 mod 4, and the unused low bits of
// the last character must be zero, so each byte string has exactly one accepted encoding.
std::optional<std::string> base64url_decode(std::string_view text);

}  // namespace callsign::server::auth_detail
