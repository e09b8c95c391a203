// Cryptographically secure random bytes (OpenSSL's DRBG, seeded from the OS).
#pragma once

#include <cstdint>
#include <span>

#include "crypto/result.hpp"

namespace callsign::crypto {

// Fills `out` entirely or returns error_kind::unavailable (the DRBG could not be seeded).
result<void> random_bytes(std::span<std::uint8_t> out);

}  // namespace callsign::crypto
