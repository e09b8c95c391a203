// The keys bearer tokens are checked against, and where they come from: [auth] key files in
// production, or the development HS256 key callsignd keeps in its data directory.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>

#include "crypto/result.hpp"
#include "server/config/config.hpp"

namespace callsign::server {

// <data_dir>/jwt-hs256.key: 32 random bytes, mode 0600, created by callsignd on first start.
inline constexpr std::string_view dev_hs256_key_file_name = "jwt-hs256.key";
inline constexpr std::size_t min_hs256_key_size = 32;
inline constexpr std::size_t max_hs256_key_size = 4096;

// An empty member means that algorithm is not accepted. Move-only; wipes the HMAC secret
// on destruction.
struct verification_keys {
  std::string hs256_secret;      // raw bytes, min_hs256_key_size..max_hs256_key_size
  std::string es256_public_pem;  // "BEGIN PUBLIC KEY" PEM of a P-256 key
  std::string rs256_public_pem;  // "BEGIN PUBLIC KEY" PEM of an RSA key of >= 2048 bits

  verification_keys() = default;
  verification_keys(verification_keys&&) noexcept = default;
  verification_keys& operator=(verification_keys&&) noexcept = default;
  verification_keys(const verification_keys&) = delete;
  verification_keys& operator=(const verification_keys&) = delete;
  ~verification_keys();
};

// The keys callsignd verifies with:
// - HS256: auth.hs256_key_file (owner-only, its exact bytes); or, when that is unset and
//   either dev_mode is on or no public key file is configured, <data_dir>/jwt-hs256.key,
//   created here if missing. With a public key configured outside dev mode and no
//   hs256_key_file, HS256 is not accepted at all.
// - ES256 / RS256: the configured PEM files, checked to hold a public key of that type.
// Errors name the file and the problem, never key bytes.
result<verification_keys> load_verification_keys(const auth_config& config, const std::filesystem::path& data_dir,
                                                 bool dev_mode);

// The HS256 signing key for `callsign token`: auth.hs256_key_file, else
// <data_dir>/jwt-hs256.key. Never creates it: error_kind::not_found when missing.
result<std::string> load_hs256_signing_key(const auth_config& config, const std::filesystem::path& data_dir);

// Checks that `pem` is a public key usable for the algorithm; the message says what is wrong.
result<void> check_es256_public_key(std::string_view pem);
result<void> check_rs256_public_key(std::string_view pem);

}  // namespace callsign::server
