// Keyed hashes of username/password pairs for the exposed-credentials list:
//   hash = HMAC-SHA256(k, normalize(username) || 0x00 || password)[0..16)
//   k    = HMAC-SHA256(master_v, "callsign exposed-credentials" || 0x00)
// normalize trims ASCII whitespace and lowercases ASCII letters. A set file records the key id
// (a fingerprint of k, not k) so a server with another master key refuses it.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "crypto/hmac_key.hpp"
#include "crypto/key_ring.hpp"

namespace callsign::crypto {

inline constexpr std::string_view exposed_credentials_label = "callsign exposed-credentials";

using credential_digest = std::array<std::uint8_t, 16>;
using credential_key_id = std::array<std::uint8_t, 8>;

// Trimmed (ASCII whitespace) and ASCII-lowercased copy; the caller wipes it when it is secret.
std::string normalize_username(std::string_view username);

// Thread safety: immutable after creation; hash() may be called concurrently.
class credential_hasher {
 public:
  // Derives k from `master`. Throws std::bad_alloc only if OpenSSL cannot allocate.
  explicit credential_hasher(const master_key& master);

  // Hashes without copying the password; the normalized username copy is wiped before return.
  credential_digest hash(std::string_view username, std::string_view password) const;

  // HMAC-SHA256(k, "key id")[0..8): identifies k without revealing it.
  const credential_key_id& key_id() const noexcept { return key_id_; }
  std::uint32_t master_version() const noexcept { return master_version_; }

 private:
  hmac_key key_;
  credential_key_id key_id_{};
  std::uint32_t master_version_ = 0;
};

}  // namespace callsign::crypto
