#include "storage/lists/ip_address.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

namespace callsign::storage {

namespace {
constexpr std::array<std::uint8_t, 12> v4_mapped_prefix = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
}  // namespace

std::optional<ip_bytes> parse_ip_bytes(std::string_view text) {
  // inet_pton needs a NUL-terminated string; the longest valid form is 45 characters.
  std::array<char, 64> buffer{};
  // A NUL would end inet_pton's string early: "192.0.2.77\0junk" must not read as 192.0.2.77.
  if (text.empty() || text.size() > 45 || text.find('\0') != std::string_view::npos) return std::nullopt;
  std::memcpy(buffer.data(), text.data(), text.size());
  ip_bytes out;
  if (text.find(':') == std::string_view::npos) {
    if (::inet_pton(AF_INET, buffer.data(), out.bytes.data()) != 1) return std::nullopt;
    return out;
  }
  if (::inet_pton(AF_INET6, buffer.data(), out.bytes.data()) != 1) return std::nullopt;
  if (std::equal(v4_mapped_prefix.begin(), v4_mapped_prefix.end(), out.bytes.begin())) {
    ip_bytes v4;
    std::copy(out.bytes.begin() + 12, out.bytes.end(), v4.bytes.begin());
    return v4;
  }
  out.v6 = true;
  return out;
}

ip_address to_ip_value(const ip_bytes& address) noexcept {
  ip_address out;
  out.v6 = address.v6;
  if (!address.v6) {
    for (std::size_t i = 0; i < 4; ++i) out.v4_value = (out.v4_value << 8) | address.bytes[i];
  } else {
    for (const std::uint8_t b : address.bytes) out.v6_value = (out.v6_value << 8) | b;
  }
  return out;
}

result<ip_address> parse_ip_address(std::string_view text) {
  auto parsed = parse_ip_bytes(text);
  if (!parsed) return make_error(error_kind::invalid_input, "not an IPv4 or IPv6 address");
  return to_ip_value(*parsed);
}

}  // namespace callsign::storage
