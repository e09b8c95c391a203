#include "crypto/percent_coding.hpp"

#include "crypto/hex.hpp"

namespace callsign::crypto {

void percent_encode_append(std::string& out, std::string_view text, std::string_view also_kept) {
  for (char c : text) {
    if (is_unreserved(c) || also_kept.find(c) != std::string_view::npos) {
      out.push_back(c);
      continue;
    }
    out.push_back('%');
    append_hex_byte(out, static_cast<std::uint8_t>(c), hex_case::upper);
  }
}

std::string percent_encode(std::string_view text, std::string_view also_kept) {
  std::string out;
  out.reserve(text.size());
  percent_encode_append(out, text, also_kept);
  return out;
}

result<std::string> percent_decode(std::string_view text, plus_sign plus, std::size_t position_base) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '+' && plus == plus_sign::space) {
      out.push_back(' ');
      continue;
    }
    if (c != '%') {
      out.push_back(c);
      continue;
    }
    const int high = i + 1 < text.size() ? hex_digit_value(text[i + 1]) : -1;
    const int low = i + 2 < text.size() ? hex_digit_value(text[i + 2]) : -1;
    if (high < 0 || low < 0) {
      return make_error(error_kind::invalid_input,
                        "bad percent escape at position " + std::to_string(position_base + i + 1));
    }
    out.push_back(static_cast<char>((high << 4) | low));
    i += 2;
  }
  return out;
}

}  // namespace callsign::crypto
