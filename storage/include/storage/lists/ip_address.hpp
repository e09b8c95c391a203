// IPv4 and IPv6 addresses, parsed in one place for the whole server. IPv4-mapped IPv6 addresses
// (::ffff:a.b.c.d) are the IPv4 address they carry, so a dual-stack listener's peers match IPv4
// entries and IPv4 limits.
//
// Two forms of one parse: the bytes (ip_bytes; the server's ip_address, with networks and text
// in server/login/ip_address.hpp) and, for the open-proxy set, integers (ip_address).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

#include "crypto/result.hpp"

namespace callsign::storage {

__extension__ using uint128 = unsigned __int128;

struct ip_bytes {
  bool v6 = false;
  std::array<std::uint8_t, 16> bytes{};  // network order; IPv4 uses the first 4

  friend bool operator==(const ip_bytes&, const ip_bytes&) = default;
};

// Strict textual forms only (inet_pton): "192.0.2.1", "2001:db8::1", "::ffff:192.0.2.1". No
// ports, brackets or zone ids; nullopt otherwise.
std::optional<ip_bytes> parse_ip_bytes(std::string_view text);

struct ip_address {
  bool v6 = false;
  std::uint32_t v4_value = 0;  // host order, valid when !v6
  uint128 v6_value = 0;        // host order, valid when v6
};

// The integer form of `address`.
ip_address to_ip_value(const ip_bytes& address) noexcept;

// parse_ip_bytes, then to_ip_value. Errors never echo the text.
result<ip_address> parse_ip_address(std::string_view text);

}  // namespace callsign::storage
