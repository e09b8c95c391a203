// Ed25519 signatures (RFC 8032, pure variant, no context). Used to sign audit checkpoints with
// a key derived from the master key ring, so anyone holding the ring can check them.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "crypto/result.hpp"

namespace callsign::crypto {

inline constexpr std::size_t ed25519_seed_size = 32;
using ed25519_public_key = std::array<std::uint8_t, 32>;
using ed25519_signature = std::array<std::uint8_t, 64>;

// A private key built from a 32-byte seed (RFC 8032's "secret key").
// Thread safety: const member functions may be called concurrently (each sign() uses its
// own OpenSSL context over the shared, read-only key). Creation, move and destruction need
// external synchronisation.
class ed25519_signing_key {
 public:
  // Fails with invalid_input when the seed is not 32 bytes, internal if OpenSSL refuses it.
  // The caller keeps (and wipes) the seed; OpenSSL holds its own copy, cleansed on free.
  static result<ed25519_signing_key> from_seed(std::span<const std::uint8_t> seed);

  ed25519_signing_key(ed25519_signing_key&&) noexcept;
  ed25519_signing_key& operator=(ed25519_signing_key&&) noexcept;
  ed25519_signing_key(const ed25519_signing_key&) = delete;
  ed25519_signing_key& operator=(const ed25519_signing_key&) = delete;
  ~ed25519_signing_key();

  const ed25519_public_key& public_key() const noexcept { return public_key_; }

  // Deterministic (same key and message, same signature). Fails only when OpenSSL cannot
  // allocate; signing with a moved-from key is a contract violation and fails as internal.
  result<ed25519_signature> sign(std::span<const std::uint8_t> message) const;

 private:
  struct state;
  ed25519_signing_key(std::unique_ptr<state> s, const ed25519_public_key& public_key) noexcept;

  std::unique_ptr<state> state_;
  ed25519_public_key public_key_{};
};

// True only when `signature` is a valid 64-byte signature of `message` under `public_key`.
// Any malformed input (wrong length, point not on the curve) is simply false.
bool ed25519_verify(const ed25519_public_key& public_key, std::span<const std::uint8_t> message,
                    std::span<const std::uint8_t> signature) noexcept;

}  // namespace callsign::crypto
