#include "crypto/base32.hpp"

#include <array>
#include <cstddef>

#include "crypto/constant_time.hpp"

namespace callsign::crypto {
namespace {

constexpr std::string_view alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
constexpr std::uint8_t invalid = 0xff;

constexpr std::array<std::uint8_t, 256> make_decode_table() {
  std::array<std::uint8_t, 256> table{};
  table.fill(invalid);
  for (std::size_t i = 0; i < alphabet.size(); ++i) {
    const auto upper = static_cast<std::size_t>(static_cast<unsigned char>(alphabet[i]));
    table[upper] = static_cast<std::uint8_t>(i);
    if (upper >= 'A' && upper <= 'Z') table[upper - 'A' + 'a'] = static_cast<std::uint8_t>(i);
  }
  return table;
}
constexpr auto decode_table = make_decode_table();

// '=' characters that complete a final group holding `remainder` data characters;
// -1 for remainders no whole number of bytes produces.
constexpr int padding_for_remainder(std::size_t remainder) {
  constexpr std::array<int, 8> padding{0, -1, 6, -1, 4, 3, -1, 1};
  return padding[remainder];
}

error invalid_character(std::size_t index) {
  return make_error(error_kind::invalid_input, "base32: invalid character at position " + std::to_string(index + 1));
}

}  // namespace

std::string base32_encode(std::span<const std::uint8_t> bytes) {
  std::string out;
  out.reserve((bytes.size() * 8 + 4) / 5);
  std::uint32_t buffer = 0;
  int bits = 0;
  for (std::uint8_t byte : bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out.push_back(alphabet[(buffer >> bits) & 0x1fU]);
    }
    buffer &= (1U << bits) - 1U;  // keep only the bits not yet emitted
  }
  if (bits > 0) out.push_back(alphabet[(buffer << (5 - bits)) & 0x1fU]);
  return out;
}

result<std::vector<std::uint8_t>> base32_decode(std::string_view text) {
  // Pass 1: characters. Data first, then optionally only '='.
  std::size_t data_size = text.size();
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '=') {
      if (data_size == text.size()) data_size = i;
      continue;
    }
    if (data_size != text.size() || decode_table[static_cast<unsigned char>(c)] == invalid) {
      return invalid_character(i);
    }
  }

  // Pass 2: lengths. Unpadded input must still end on a whole byte.
  const int padding = padding_for_remainder(data_size % 8);
  if (padding < 0) {
    return make_error(error_kind::invalid_input, "base32: length is not a whole number of bytes");
  }
  const std::size_t padding_seen = text.size() - data_size;
  if (padding_seen != 0 && padding_seen != static_cast<std::size_t>(padding)) {
    return make_error(error_kind::invalid_input, "base32: wrong amount of '=' padding");
  }

  // Pass 3: bits.
  std::vector<std::uint8_t> out;
  out.reserve(data_size * 5 / 8);
  std::uint32_t buffer = 0;
  int bits = 0;
  for (std::size_t i = 0; i < data_size; ++i) {
    buffer = (buffer << 5) | decode_table[static_cast<unsigned char>(text[i])];
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<std::uint8_t>(buffer >> bits));
      buffer &= (1U << bits) - 1U;
    }
  }
  if (buffer != 0) {
    secure_wipe(out);  // it may be a secret
    return make_error(error_kind::invalid_input, "base32: non-zero bits after the last byte");
  }
  return out;
}

}  // namespace callsign::crypto
