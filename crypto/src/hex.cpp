#include "crypto/hex.hpp"

namespace callsign::crypto {

std::string hex_encode(std::span<const std::uint8_t> bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (std::uint8_t byte : bytes) append_hex_byte(out, byte);
  return out;
}

result<void> hex_decode_into(std::string_view text, std::span<std::uint8_t> out) {
  if (text.size() % 2 != 0) {
    return make_error(error_kind::invalid_input, "hex: odd number of characters");
  }
  if (text.size() / 2 != out.size()) {
    return make_error(error_kind::invalid_input, "hex: expected " + std::to_string(out.size() * 2) + " characters");
  }
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (hex_digit_value(text[i]) < 0) {
      return make_error(error_kind::invalid_input, "hex: invalid character at position " + std::to_string(i + 1));
    }
  }
  for (std::size_t i = 0; i < out.size(); ++i) {
    out[i] = static_cast<std::uint8_t>((hex_digit_value(text[2 * i]) << 4) | hex_digit_value(text[2 * i + 1]));
  }
  return {};
}

result<std::vector<std::uint8_t>> hex_decode(std::string_view text) {
  if (text.size() % 2 != 0) {
    return make_error(error_kind::invalid_input, "hex: odd number of characters");
  }
  std::vector<std::uint8_t> out(text.size() / 2);
  if (auto decoded = hex_decode_into(text, out); !decoded) return decoded.error();
  return out;
}

}  // namespace callsign::crypto
