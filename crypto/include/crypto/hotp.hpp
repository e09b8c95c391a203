// HOTP, RFC 4226: dynamic truncation of HMAC(key, counter) to a decimal code.
#pragma once

#include <cstdint>
#include <string>

#include "crypto/hmac_key.hpp"

namespace callsign::crypto {

inline constexpr int min_code_digits = 6;  // RFC 4226 section 5.3
inline constexpr int max_code_digits = 8;  // what authenticator apps and oathtool support

// The code for `counter` (8-byte big-endian), left-padded with zeros to `digits`.
// `digits` outside [6, 8] is clamped into that range, so a caller bug can never yield an
// empty or over-long code; validate user input with totp_params::validate first.
std::string hotp_code(const hmac_key& key, std::uint64_t counter, int digits);

}  // namespace callsign::crypto
