// IPv4/IPv6 addresses and CIDR networks as values: parsing, canonical text, containment.
// IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) are treated as the IPv4 address they carry.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "storage/lists/ip_address.hpp"

namespace callsign::server {

// The bytes of one address (storage/lists/ip_address.hpp parses it for the whole server).
using ip_address = storage::ip_bytes;

// Strict text forms only ("203.0.113.7", "2001:db8::1"); nullopt otherwise. No ports, no
// brackets, no zone ids.
inline std::optional<ip_address> parse_ip_address(std::string_view text) {
  return storage::parse_ip_bytes(text);
}
// Canonical text (inet_ntop; RFC 5952 for IPv6).
std::string to_string(const ip_address& address);

struct ip_network {
  ip_address base;  // host bits cleared
  int prefix = 0;   // 0..32 or 0..128

  bool contains(const ip_address& address) const noexcept;
};

// "10.0.0.0/8", "2001:db8::/32", or a bare address (a /32 or /128); nullopt when bad.
std::optional<ip_network> parse_ip_network(std::string_view text);
std::string to_string(const ip_network& network);

// The group failed logins are counted and blocked by: an IPv4 address itself, or an IPv6
// address's /64 (one subscriber usually holds a whole /64).
ip_network login_group(const ip_address& address);

// The same address as the lists' integer form (storage/lists/ip_address.hpp), for set lookups.
inline storage::ip_address to_storage_address(const ip_address& address) noexcept {
  return storage::to_ip_value(address);
}

}  // namespace callsign::server
