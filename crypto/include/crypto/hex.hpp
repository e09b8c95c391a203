// Base16 (hex) encoding.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/result.hpp"

namespace callsign::crypto {

// Lower case.
std::string hex_encode(std::span<const std::uint8_t> bytes);

// Case-insensitive; requires an even length. Errors give the 1-based position of a bad
// character and never echo the input.
result<std::vector<std::uint8_t>> hex_decode(std::string_view text);

// Decodes into a caller buffer whose size must be exactly text.size() / 2, so fixed-size
// secrets never pass through a heap buffer.
result<void> hex_decode_into(std::string_view text, std::span<std::uint8_t> out);

}  // namespace callsign::crypto
