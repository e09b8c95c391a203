#include "storage/lists/breach_input.hpp"

#include <algorithm>

#include "crypto/hex.hpp"

namespace callsign::storage {

std::string_view strip_line_ending(std::string_view line) noexcept {
  if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

result<credential_pair> split_pair_line(std::string_view line) {
  if (line.find('\0') != std::string_view::npos) {
    return make_error(error_kind::invalid_input, "a NUL character in the line");
  }
  const auto colon = line.find(':');
  if (colon == std::string_view::npos) {
    return make_error(error_kind::invalid_input, "no ':' between username and password");
  }
  return credential_pair{line.substr(0, colon), line.substr(colon + 1)};
}

result<void> split_csv_line(std::string_view line, std::vector<std::string>& fields) {
  fields.clear();
  if (line.find('\0') != std::string_view::npos) {
    return make_error(error_kind::invalid_input, "a NUL character in the line");
  }
  fields.emplace_back();
  bool quoted = false;
  bool field_start = true;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"') {
        if (i + 1 < line.size() && line[i + 1] == '"') {
          fields.back().push_back('"');
          ++i;
        } else {
          quoted = false;
          if (i + 1 < line.size() && line[i + 1] != ',') {
            return make_error(error_kind::invalid_input, "text after a closing quote");
          }
        }
      } else {
        fields.back().push_back(c);
      }
    } else if (c == ',') {
      fields.emplace_back();
      field_start = true;
      continue;
    } else if (c == '"' && field_start) {
      quoted = true;
    } else {
      fields.back().push_back(c);
    }
    field_start = false;
  }
  if (quoted) return make_error(error_kind::invalid_input, "unclosed quote (CSV records must be one line)");
  return {};
}

result<std::array<std::uint8_t, 8>> parse_hibp_line(std::string_view line) {
  const auto colon = line.find(':');
  if (colon != 40) return make_error(error_kind::invalid_input, "not SHA1HEX:COUNT (40 hex digits, ':', count)");
  const std::string_view count = line.substr(41);
  if (count.empty() || count.size() > 20 || !std::all_of(count.begin(), count.end(), [](char c) {
        return c >= '0' && c <= '9';
      })) {
    return make_error(error_kind::invalid_input, "not SHA1HEX:COUNT (the count is not a decimal number)");
  }
  std::array<std::uint8_t, 8> out{};
  for (std::size_t i = 0; i < 40; ++i) {
    const int v = crypto::hex_digit_value(line[i]);
    if (v < 0) return make_error(error_kind::invalid_input, "not SHA1HEX:COUNT (a non-hex digit in the hash)");
    if (i < 16) out[i / 2] = static_cast<std::uint8_t>((out[i / 2] << 4) | v);
  }
  return out;
}

}  // namespace callsign::storage
