// Fixed-width big-endian integers: keys sort by number, and signed messages are unambiguous.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace callsign::storage {

inline void append_be64(std::string& out, std::uint64_t value) {
  for (int shift = 56; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>(static_cast<std::uint8_t>(value >> shift)));
  }
}

// `bytes` must hold exactly 8 bytes.
inline std::uint64_t read_be64(std::string_view bytes) {
  std::uint64_t value = 0;
  for (const char c : bytes.substr(0, 8)) value = (value << 8) | static_cast<std::uint8_t>(c);
  return value;
}

// `value` must fit in 32 bits.
inline void append_be32(std::string& out, std::uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>(static_cast<std::uint8_t>(value >> shift)));
  }
}

// `bytes` must hold at least 4 bytes; the first 4 are read.
inline std::uint32_t read_be32(std::string_view bytes) {
  std::uint32_t value = 0;
  for (const char c : bytes.substr(0, 4)) value = (value << 8) | static_cast<std::uint8_t>(c);
  return value;
}

}  // namespace callsign::storage
