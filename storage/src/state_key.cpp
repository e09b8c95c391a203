#include "storage/state_key.hpp"

#include <array>
#include <cstddef>

#include "crypto/hex.hpp"
#include "crypto/percent_coding.hpp"

namespace callsign::storage {

namespace {

// RFC 3986 pchar without '%': unreserved plus sub-delims, ':' and '@'.
constexpr std::string_view kept_punctuation = ":@!$&'()*+,;=";

bool kept_as_is(unsigned char c) noexcept {
  const auto ch = static_cast<char>(c);
  return crypto::is_unreserved(ch) || kept_punctuation.find(ch) != std::string_view::npos;
}

template <class Parts>
std::string join(const Parts& parts) {
  std::string out;
  std::size_t size = 0;
  for (std::string_view part : parts) size += part.size() + 1;
  out.reserve(size);  // exact unless a byte needs escaping
  bool first = true;
  for (std::string_view part : parts) {
    if (!first) {
      out.push_back('/');
    }
    first = false;
    crypto::percent_encode_append(out, part, kept_punctuation);
  }
  return out;
}

// Upper case only: one spelling per byte keeps keys unique.
int upper_hex_value(char c) noexcept {
  return c >= 'a' && c <= 'f' ? -1 : crypto::hex_digit_value(c);
}

}  // namespace

std::string state_key(std::initializer_list<std::string_view> parts) {
  return join(parts);
}

std::string state_key(const std::vector<std::string_view>& parts) {
  return join(parts);
}

result<std::vector<std::string>> split_state_key(std::string_view key) {
  std::vector<std::string> parts(1);
  for (std::size_t i = 0; i < key.size(); ++i) {
    const char ch = key[i];
    if (ch == '/') {
      parts.emplace_back();
    } else if (ch == '%') {
      if (key.size() - i < 3) {
        return make_error(error_kind::invalid_input, "state key has a truncated escape");
      }
      const int high = upper_hex_value(key[i + 1]);
      const int low = upper_hex_value(key[i + 2]);
      if (high < 0 || low < 0) {
        return make_error(error_kind::invalid_input, "state key has a bad escape");
      }
      const auto byte = static_cast<unsigned char>((high << 4) | low);
      if (kept_as_is(byte)) {
        return make_error(error_kind::invalid_input, "state key escapes a byte that is kept as is");
      }
      parts.back().push_back(static_cast<char>(byte));
      i += 2;
    } else if (kept_as_is(static_cast<unsigned char>(ch))) {
      parts.back().push_back(ch);
    } else {
      return make_error(error_kind::invalid_input, "state key has a byte that must be escaped");
    }
  }
  return parts;
}

}  // namespace callsign::storage
