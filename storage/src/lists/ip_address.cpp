#include "storage/lists/ip_address.hpp"

#include <arpa/inet.h>

#include <array>
#include <cstring>

namespace callsign::storage {

result<ip_address> parse_ip_address(std::string_view text) {
  // inet_pton needs a NUL-terminated string; the longest valid form is 45 characters.
  std::array<char, 64> buffer{};
  if (text.empty() || text.size() >= buffer.size()) {
    return make_error(error_kind::invalid_input, "not an IPv4 or IPv6 address");
  }
  std::memcpy(buffer.data(), text.data(), text.size());
  ip_address out;
  if (text.find(':') == std::string_view::npos) {
    std::array<std::uint8_t, 4> bytes{};
    if (::inet_pton(AF_INET, buffer.data(), bytes.data()) != 1) {
      return make_error(error_kind::invalid_input, "not an IPv4 or IPv6 address");
    }
    out.v4_value = (std::uint32_t{bytes[0]} << 24) | (std::uint32_t{bytes[1]} << 16) |
                   (std::uint32_t{bytes[2]} << 8) | std::uint32_t{bytes[3]};
    return out;
  }
  std::array<std::uint8_t, 16> bytes{};
  if (::inet_pton(AF_INET6, buffer.data(), bytes.data()) != 1) {
    return make_error(error_kind::invalid_input, "not an IPv4 or IPv6 address");
  }
  uint128 value = 0;
  for (const std::uint8_t b : bytes) value = (value << 8) | b;
  if ((value >> 32) == uint128{0xffff}) {  // ::ffff:a.b.c.d
    out.v4_value = static_cast<std::uint32_t>(value);
    return out;
  }
  out.v6 = true;
  out.v6_value = value;
  return out;
}

}  // namespace callsign::storage
