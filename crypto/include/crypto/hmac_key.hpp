// HMAC with a precomputed key schedule: the key is absorbed once, each message costs two
// digest finalisations and no key processing (RFC 2104 section 4, "implementation note").
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <span>

#include "crypto/hash_algorithm.hpp"
#include "crypto/result.hpp"

namespace callsign::crypto {

// An HMAC output of up to 64 bytes held inline, so signing never touches the heap for it.
// Wiped on destruction because derived keys are HMAC outputs.
struct hmac_digest {
  static constexpr std::size_t max_size = 64;

  std::array<std::uint8_t, max_size> bytes{};
  std::size_t size = 0;

  std::span<const std::uint8_t> view() const noexcept { return {bytes.data(), size}; }

  hmac_digest() = default;
  hmac_digest(const hmac_digest&) = default;
  hmac_digest& operator=(const hmac_digest&) = default;
  ~hmac_digest();
};

// Thread safety: const member functions may be called concurrently from any number of
// threads (each thread signs in its own thread_local scratch context). Creation, move and
// destruction need external synchronisation like any other object.
class hmac_key {
 public:
  // Fails only for an out-of-range algorithm value or an OpenSSL failure. Any key length is
  // accepted; keys longer than the hash block are hashed first, as HMAC specifies.
  static result<hmac_key> create(hash_algorithm algorithm, std::span<const std::uint8_t> key);

  hmac_key(hmac_key&&) noexcept;
  hmac_key& operator=(hmac_key&&) noexcept;
  hmac_key(const hmac_key&) = delete;
  hmac_key& operator=(const hmac_key&) = delete;
  ~hmac_key();  // frees the digest states, which OpenSSL cleanses (they are key material)

  // HMAC(key, message). Throws std::bad_alloc only if OpenSSL cannot allocate, the only way
  // signing with a built key can fail. Signing with a moved-from key is a contract
  // violation and aborts rather than return a predictable value.
  hmac_digest sign(std::span<const std::uint8_t> message) const;
  // HMAC(key, parts[0] || parts[1] || ...), without concatenating into a buffer first.
  hmac_digest sign(std::initializer_list<std::span<const std::uint8_t>> parts) const;

  hash_algorithm algorithm() const noexcept { return algorithm_; }

 private:
  struct state;
  hmac_key(hash_algorithm algorithm, std::unique_ptr<state> state) noexcept;

  hash_algorithm algorithm_;
  std::unique_ptr<state> state_;
};

}  // namespace callsign::crypto
