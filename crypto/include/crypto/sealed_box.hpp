// Authenticated encryption of small secrets at rest (AES-256-GCM), as self-describing blobs:
//
//   raw key:   0x01 | nonce(12) | ciphertext | tag(16)
//   key ring:  0x02 | key version (4, big-endian) | nonce(12) | ciphertext | tag(16)
//
// The header (format byte, and the version) is authenticated together with the caller's
// associated data, so neither can be swapped without the tag failing. Nonces are random:
// safe for far more than 2^32 seals per key, which one key never approaches here.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/key_ring.hpp"
#include "crypto/result.hpp"

namespace callsign::crypto {

inline constexpr std::size_t sealed_key_size = 32;
inline constexpr std::size_t sealed_nonce_size = 12;
inline constexpr std::size_t sealed_tag_size = 16;
inline constexpr std::uint8_t sealed_format_raw_key = 0x01;
inline constexpr std::uint8_t sealed_format_key_ring = 0x02;

// The derivation label of the ring's sealing key: derive_key(master_v, label, {}).
inline constexpr std::string_view authenticator_seal_label = "callsign authenticator-seal";

// Seals under a caller-held key. Fails only when the random generator or OpenSSL does.
result<std::string> seal(std::span<const std::uint8_t, sealed_key_size> key, std::span<const std::uint8_t> plaintext,
                         std::string_view associated_data);

// Opens a raw-key blob. A wrong key, wrong associated data or any tampering gives one
// error_kind::invalid_input "failed authentication" error, never which one it was. The
// plaintext is a secret: the caller wipes it (secure_wipe).
result<std::vector<std::uint8_t>> open_sealed(std::span<const std::uint8_t, sealed_key_size> key, std::string_view blob,
                                              std::string_view associated_data);

// Seals under the ring's current version and records that version in the blob.
result<std::string> seal_with_ring(const key_ring& ring, std::span<const std::uint8_t> plaintext,
                                   std::string_view associated_data);

// Opens with the version the blob names; error_kind::not_found when the ring lacks it.
result<std::vector<std::uint8_t>> open_with_ring(const key_ring& ring, std::string_view blob,
                                                 std::string_view associated_data);

// The key version a ring blob was sealed under, without opening it: lets rotation find
// blobs to re-seal (open_with_ring, then seal_with_ring).
result<std::uint32_t> sealed_key_version(std::string_view blob);

// The bare primitive, exposed for known-answer tests. The nonce must never repeat under
// one key; everything else should call seal(). Output is ciphertext || tag.
result<std::string> aes256_gcm_encrypt(std::span<const std::uint8_t, sealed_key_size> key,
                                       std::span<const std::uint8_t, sealed_nonce_size> nonce,
                                       std::span<const std::uint8_t> plaintext,
                                       std::span<const std::uint8_t> associated_data);
// `sealed` is ciphertext || tag.
result<std::vector<std::uint8_t>> aes256_gcm_decrypt(std::span<const std::uint8_t, sealed_key_size> key,
                                                     std::span<const std::uint8_t, sealed_nonce_size> nonce,
                                                     std::span<const std::uint8_t> sealed,
                                                     std::span<const std::uint8_t> associated_data);

}  // namespace callsign::crypto
