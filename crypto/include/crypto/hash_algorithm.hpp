// Hash functions allowed for HMAC-based one-time passwords (RFC 6238 section 1.2).
#pragma once

#include <cstddef>
#include <string_view>

#include "crypto/result.hpp"

namespace callsign::crypto {

enum class hash_algorithm { sha1, sha256, sha512 };

// Accepts "SHA1", "SHA256", "SHA512" in any letter case (the otpauth spelling).
result<hash_algorithm> parse_hash_algorithm(std::string_view text);

// Upper-case name as written in otpauth URIs; "unknown" for an out-of-range value.
std::string_view name(hash_algorithm algorithm) noexcept;

// Digest length in bytes (20, 32, 64); 0 for an out-of-range value.
std::size_t digest_size(hash_algorithm algorithm) noexcept;

// True for the three enumerators; guards against values forged with a cast.
bool is_valid(hash_algorithm algorithm) noexcept;

}  // namespace callsign::crypto
