// IP and CIDR literals of the language ("192.0.2.1", "10.0.0.0/8", "2001:db8::/32") and the
// small sorted interval sets `ip.src in {...}` compiles to. Named lists use storage::ip_set.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "storage/lists/ip_address.hpp"
#include "storage/lists/ip_set.hpp"

namespace callsign::rules {

struct ip_cidr {
  storage::ip_address address;  // host bits kept as written; masked when a set is built
  unsigned length = 0;          // 32 or 128 for a plain address
  bool has_length = false;
};

// nullopt with `expected` filled ("a prefix length 0..32 for IPv4", ...).
std::optional<ip_cidr> parse_ip_cidr(std::string_view text, std::string& expected);
storage::ip_prefix to_prefix(const ip_cidr& c) noexcept;
bool same_address(const storage::ip_address& a, const storage::ip_address& b) noexcept;

// Thread-safety: immutable after build(); contains() may run concurrently.
class inline_ip_set {
 public:
  static inline_ip_set build(const std::vector<ip_cidr>& entries);
  bool contains(const storage::ip_address& a) const noexcept;

 private:
  struct v4_range {
    std::uint32_t lo, hi;
  };
  struct v6_range {
    storage::uint128 lo, hi;
  };
  std::vector<v4_range> v4_;  // sorted, disjoint
  std::vector<v6_range> v6_;
};

}  // namespace callsign::rules
