// Bearer-token (JWT, JWS compact form) verification. See docs/auth.md for the rules.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/result.hpp"
#include "server/auth/role.hpp"
#include "server/auth/verification_keys.hpp"
#include "server/config/config.hpp"

namespace callsign::server {

inline constexpr std::size_t max_token_size = 8192;

// Thread safety: immutable after construction; verify() may be called concurrently from any
// number of threads. Move-only; a moved-from verifier refuses every token.
class token_verifier {
 public:
  // Fails when `keys` holds no key at all, or a key that does not suit its algorithm.
  static result<token_verifier> create(const auth_config& config, verification_keys keys);
  // load_verification_keys(config, data_dir, dev_mode), then create(): what callsignd runs at
  // start-up (it creates the development key on first start).
  static result<token_verifier> load(const auth_config& config, const std::filesystem::path& data_dir, bool dev_mode);

  token_verifier(token_verifier&&) noexcept;
  token_verifier& operator=(token_verifier&&) noexcept;
  token_verifier(const token_verifier&) = delete;
  token_verifier& operator=(const token_verifier&) = delete;
  ~token_verifier();

  // In order: size and shape; the JOSE header, decoded here, must name an algorithm a
  // configured key serves (HS256 with the HMAC key, ES256 with the EC key, RS256 with the RSA
  // key; never "none"); the signature, checked by libjwt with exactly that key (HS256 is also
  // compared in constant time here first); then exp (required), nbf (if present), iss, aud
  // (a string or an array holding the audience), each time with the configured leeway; sub
  // (1-128 visible ASCII bytes) and role (one of the four). Every failure is
  // error_kind::unauthorized with a short generic reason that never quotes the token.
  result<principal> verify(std::string_view token, std::int64_t now) const;

  // "HS256", "ES256", "RS256": those this verifier accepts, for the start-up log.
  std::vector<std::string_view> algorithms() const;

 private:
  struct state;
  explicit token_verifier(std::unique_ptr<state> s) noexcept;
  std::unique_ptr<state> state_;
};

}  // namespace callsign::server
