// Base16 (hex) encoding.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/result.hpp"

namespace callsign::crypto {

// The value of one hex digit (either case), or -1. The tree's only hex digit parser: percent
// escapes, state keys and breach-list hashes all read digits through it.
constexpr int hex_digit_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

enum class hex_case { lower, upper };

// The hex digit for the low four bits of `nibble`. The tree's only hex digit writer: hex
// encoding, percent escapes, JSON \u00XX escapes and request ids all write digits through it.
constexpr char hex_digit(unsigned nibble, hex_case letters = hex_case::lower) noexcept {
  constexpr const char* lower = "0123456789abcdef";
  constexpr const char* upper = "0123456789ABCDEF";
  return (letters == hex_case::upper ? upper : lower)[nibble & 0x0fU];
}

// Appends the two hex digits of `byte`, high nibble first.
inline void append_hex_byte(std::string& out, std::uint8_t byte, hex_case letters = hex_case::lower) {
  out.push_back(hex_digit(byte >> 4U, letters));
  out.push_back(hex_digit(byte, letters));
}

// Lower case.
std::string hex_encode(std::span<const std::uint8_t> bytes);

// Case-insensitive; requires an even length. Errors give the 1-based position of a bad
// character and never echo the input.
result<std::vector<std::uint8_t>> hex_decode(std::string_view text);

// Decodes into a caller buffer whose size must be exactly text.size() / 2, so fixed-size
// secrets never pass through a heap buffer.
result<void> hex_decode_into(std::string_view text, std::span<std::uint8_t> out);

}  // namespace callsign::crypto
