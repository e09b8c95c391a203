#include "server/login/ip_address.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>

namespace callsign::server {

namespace {

void clear_host_bits(ip_address& address, int prefix) {
  const int total = address.v6 ? 128 : 32;
  for (int bit = prefix; bit < total; ++bit) {
    address.bytes[static_cast<std::size_t>(bit / 8)] &= static_cast<std::uint8_t>(~(0x80U >> (bit % 8)));
  }
}
}  // namespace

std::string to_string(const ip_address& address) {
  if (!address.v6) {
    // Dotted quad by hand: inet_ntop formats IPv4 with sprintf, which was most of a block key's
    // cost on every login check whose rules read a failure count.
    std::string text;
    text.reserve(15);
    for (std::size_t i = 0; i < 4; ++i) {
      if (i > 0) text += '.';
      std::array<char, 3> digits{};
      const auto end = std::to_chars(digits.data(), digits.data() + digits.size(), address.bytes[i]).ptr;
      text.append(digits.data(), end);
    }
    return text;
  }
  std::array<char, INET6_ADDRSTRLEN> buffer{};
  inet_ntop(address.v6 ? AF_INET6 : AF_INET, address.bytes.data(), buffer.data(), buffer.size());
  return std::string(buffer.data());
}

bool ip_network::contains(const ip_address& address) const noexcept {
  if (address.v6 != base.v6) return false;
  ip_address masked = address;
  clear_host_bits(masked, prefix);
  return masked == base;
}

std::optional<ip_network> parse_ip_network(std::string_view text) {
  const auto slash = text.find('/');
  auto address = parse_ip_address(text.substr(0, slash));
  if (!address) return std::nullopt;
  const int total = address->v6 ? 128 : 32;
  int prefix = total;
  if (slash != std::string_view::npos) {
    const auto digits = text.substr(slash + 1);
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), prefix);
    if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() || prefix < 0 || prefix > total) {
      return std::nullopt;
    }
  }
  clear_host_bits(*address, prefix);
  return ip_network{*address, prefix};
}

std::string to_string(const ip_network& network) {
  return to_string(network.base) + "/" + std::to_string(network.prefix);
}

ip_network login_group(const ip_address& address) {
  ip_network group{address, address.v6 ? 64 : 32};
  clear_host_bits(group.base, group.prefix);
  return group;
}

}  // namespace callsign::server
