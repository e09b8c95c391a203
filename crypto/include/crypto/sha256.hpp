// SHA-256 (FIPS 180-4) for hash chains and content digests. Not for passwords or MACs.
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string_view>

namespace callsign::crypto {

using sha256_digest = std::array<std::uint8_t, 32>;

// Thread-safe (no shared state). Throws std::bad_alloc only if OpenSSL cannot allocate,
// the one way hashing can fail; a predictable digest is never returned instead.
sha256_digest sha256(std::span<const std::uint8_t> data);
sha256_digest sha256(std::string_view data);
// SHA-256(parts[0] || parts[1] || ...), without concatenating into a buffer first.
sha256_digest sha256(std::initializer_list<std::span<const std::uint8_t>> parts);

}  // namespace callsign::crypto
