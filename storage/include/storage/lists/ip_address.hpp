// One IPv4 or IPv6 address as integers, for the open-proxy set. IPv4-mapped IPv6 addresses
// (::ffff:a.b.c.d) are the IPv4 address, so a dual-stack listener's peers match IPv4 entries.
#pragma once

#include <cstdint>
#include <string_view>

#include "crypto/result.hpp"

namespace callsign::storage {

__extension__ using uint128 = unsigned __int128;

struct ip_address {
  bool v6 = false;
  std::uint32_t v4_value = 0;  // host order, valid when !v6
  uint128 v6_value = 0;        // host order, valid when v6
};

// Strict textual forms only (inet_pton): "192.0.2.1", "2001:db8::1", "::ffff:192.0.2.1".
// Errors never echo the text.
result<ip_address> parse_ip_address(std::string_view text);

}  // namespace callsign::storage
