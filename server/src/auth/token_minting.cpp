#include "server/auth/token_minting.hpp"

#include <jwt.h>

#include <cstdlib>
#include <limits>
#include <memory>

#include "server/auth/verification_keys.hpp"

namespace callsign::server {
namespace {

struct jwt_deleter {
  void operator()(jwt_t* jwt) const noexcept { jwt_free(jwt); }
};
struct c_string_deleter {
  void operator()(char* text) const noexcept { std::free(text); }  // libjwt allocates with malloc
};

error bad(std::string message) {
  return make_error(error_kind::invalid_input, std::move(message));
}

}  // namespace

result<std::string> mint_hs256_token(std::span<const std::uint8_t> key, std::string_view issuer,
                                     std::string_view audience, role r, std::string_view subject, std::int64_t now,
                                     std::int64_t ttl_seconds) {
  if (key.size() < min_hs256_key_size || key.size() > max_hs256_key_size) {
    return bad("the HS256 key must be 32 to 4096 bytes");
  }
  if (issuer.empty() || audience.empty()) return bad("issuer and audience must not be empty");
  if (!valid_subject(subject)) return bad("the subject must be 1-128 visible ASCII characters");
  if (ttl_seconds < 1 || ttl_seconds > max_token_ttl_seconds) {
    return bad("the lifetime must be 1 to " + std::to_string(max_token_ttl_seconds) + " seconds");
  }
  if (now < 0 || now > std::numeric_limits<std::int64_t>::max() - ttl_seconds) return bad("the time is out of range");
  // libjwt takes C strings; a NUL inside would silently shorten a claim.
  if (issuer.find('\0') != std::string_view::npos || audience.find('\0') != std::string_view::npos) {
    return bad("issuer and audience must not contain NUL");
  }

  jwt_t* raw = nullptr;
  if (jwt_new(&raw) != 0 || raw == nullptr) return make_error(error_kind::internal, "cannot allocate a token");
  const std::unique_ptr<jwt_t, jwt_deleter> jwt(raw);
  const std::string iss(issuer);
  const std::string aud(audience);
  const std::string sub(subject);
  const std::string role_text(role_name(r));
  const bool built =
      jwt_add_grant(jwt.get(), "iss", iss.c_str()) == 0 && jwt_add_grant(jwt.get(), "aud", aud.c_str()) == 0 &&
      jwt_add_grant(jwt.get(), "sub", sub.c_str()) == 0 && jwt_add_grant(jwt.get(), "role", role_text.c_str()) == 0 &&
      jwt_add_grant_int(jwt.get(), "iat", now) == 0 && jwt_add_grant_int(jwt.get(), "exp", now + ttl_seconds) == 0 &&
      jwt_set_alg(jwt.get(), JWT_ALG_HS256, key.data(), static_cast<int>(key.size())) == 0;
  if (!built) return make_error(error_kind::internal, "cannot build the token");
  const std::unique_ptr<char, c_string_deleter> encoded(jwt_encode_str(jwt.get()));
  if (!encoded) return make_error(error_kind::internal, "cannot sign the token");
  return std::string(encoded.get());
}

}  // namespace callsign::server
