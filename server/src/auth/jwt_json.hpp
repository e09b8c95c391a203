// The JSON halves of a JWS: the JOSE header and the claims set, read with simdjson. Private
// to server/src/auth. Both parsers are strict about what the verifier relies on: a member
// it reads must appear once and have the right type, or the whole token is refused, so no
// other JSON reader (libjwt's jansson) can see a different value than ours.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace callsign::server::auth_detail {

struct jose_header {
  std::string alg;
};

// nullopt unless a JSON object with one string "alg", "typ" absent or "JWT" (any case), and
// no "crit" (we implement no critical extensions, so RFC 7515 says refuse).
std::optional<jose_header> parse_jose_header(std::string_view json);

struct jwt_claims {
  std::optional<std::int64_t> exp;  // NumericDate, fractions dropped
  std::optional<std::int64_t> nbf;
  std::optional<std::string> iss;
  std::optional<std::string> sub;
  std::optional<std::string> role;
  std::vector<std::string> aud;  // a string claim becomes one element
};

// nullopt unless a JSON object whose exp/nbf are numbers, iss/sub/role strings, aud a string
// or an array of strings, none repeated. Other claims are ignored.
std::optional<jwt_claims> parse_jwt_claims(std::string_view json);

}  // namespace callsign::server::auth_detail
