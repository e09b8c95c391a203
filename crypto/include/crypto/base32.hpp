// Base32, RFC 4648 section 6 (the alphabet authenticator apps use for secrets).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/result.hpp"

namespace callsign::crypto {

// Upper case, without '=' padding (the otpauth convention).
std::string base32_encode(std::span<const std::uint8_t> bytes);

// Case-insensitive. Padding is optional but, when present, must be exactly what RFC 4648
// prescribes. Non-zero trailing bits are rejected so every value has one spelling.
// Errors give the 1-based position of the offending character and never echo the input.
result<std::vector<std::uint8_t>> base32_decode(std::string_view text);

}  // namespace callsign::crypto
