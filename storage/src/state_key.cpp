#include "storage/state_key.hpp"

#include <array>
#include <cstddef>

namespace callsign::storage {

namespace {

constexpr std::string_view hex_digits = "0123456789ABCDEF";

bool kept_as_is(unsigned char c) noexcept {
  if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
    return true;
  }
  constexpr std::string_view kept = "-._~:@!$&'()*+,;=";
  return kept.find(static_cast<char>(c)) != std::string_view::npos;
}

void append_escaped(std::string& out, std::string_view part) {
  for (char ch : part) {
    const auto c = static_cast<unsigned char>(ch);
    if (kept_as_is(c)) {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(hex_digits[c >> 4U]);
      out.push_back(hex_digits[c & 0x0FU]);
    }
  }
}

template <class Parts>
std::string join(const Parts& parts) {
  std::string out;
  bool first = true;
  for (std::string_view part : parts) {
    if (!first) {
      out.push_back('/');
    }
    first = false;
    append_escaped(out, part);
  }
  return out;
}

int hex_value(char c) noexcept {
  const auto pos = hex_digits.find(c);  // upper case only: one spelling per byte keeps keys unique
  return pos == std::string_view::npos ? -1 : static_cast<int>(pos);
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
      const int high = hex_value(key[i + 1]);
      const int low = hex_value(key[i + 2]);
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
