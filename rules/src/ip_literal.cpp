#include "ip_literal.hpp"

#include <algorithm>

namespace callsign::rules {

std::optional<ip_cidr> parse_ip_cidr(std::string_view text, std::string& expected) {
  const std::size_t slash = text.find('/');
  const auto bytes = storage::parse_ip_bytes(text.substr(0, slash));
  if (!bytes) {
    expected = "an IP address or CIDR";
    return std::nullopt;
  }
  ip_cidr out;
  out.address = storage::to_ip_value(*bytes);
  const unsigned max = out.address.v6 ? 128U : 32U;
  out.length = max;
  if (slash == std::string_view::npos) return out;
  const std::string_view digits = text.substr(slash + 1);
  unsigned length = 0;
  bool ok = !digits.empty() && digits.size() <= 3;
  for (char c : digits) {
    ok = ok && c >= '0' && c <= '9';
    if (ok) length = length * 10 + static_cast<unsigned>(c - '0');
  }
  if (!ok || length > max) {
    expected = out.address.v6 ? "a prefix length 0..128 for IPv6" : "a prefix length 0..32 for IPv4";
    return std::nullopt;
  }
  out.length = length;
  out.has_length = true;
  return out;
}

storage::ip_prefix to_prefix(const ip_cidr& c) noexcept { return storage::ip_prefix{c.address, c.length}; }

bool same_address(const storage::ip_address& a, const storage::ip_address& b) noexcept {
  if (a.v6 != b.v6) return false;
  return a.v6 ? a.v6_value == b.v6_value : a.v4_value == b.v4_value;
}

namespace {
template <class Range, class T>
void merge(std::vector<Range>& ranges) {
  std::sort(ranges.begin(), ranges.end(), [](const Range& x, const Range& y) { return x.lo < y.lo; });
  std::vector<Range> merged;
  for (const auto& r : ranges) {
    if (!merged.empty() && (merged.back().hi == static_cast<T>(~T{0}) || r.lo <= merged.back().hi + 1)) {
      merged.back().hi = std::max(merged.back().hi, r.hi);
    } else {
      merged.push_back(r);
    }
  }
  ranges = std::move(merged);
}

template <class Range, class T>
bool find(const std::vector<Range>& ranges, T x) noexcept {
  // The last range starting at or below x.
  auto it = std::upper_bound(ranges.begin(), ranges.end(), x, [](T v, const Range& r) { return v < r.lo; });
  return it != ranges.begin() && x <= std::prev(it)->hi;
}
}  // namespace

inline_ip_set inline_ip_set::build(const std::vector<ip_cidr>& entries) {
  inline_ip_set s;
  for (const auto& e : entries) {
    if (!e.address.v6) {
      const std::uint32_t host = e.length == 0 ? ~0U : (e.length == 32 ? 0U : (~0U >> e.length));
      s.v4_.push_back({e.address.v4_value & ~host, e.address.v4_value | host});
    } else {
      const storage::uint128 all = ~storage::uint128{0};
      const storage::uint128 host = e.length == 0 ? all : (e.length == 128 ? 0 : (all >> e.length));
      s.v6_.push_back({e.address.v6_value & ~host, e.address.v6_value | host});
    }
  }
  merge<v4_range, std::uint32_t>(s.v4_);
  merge<v6_range, storage::uint128>(s.v6_);
  return s;
}

bool inline_ip_set::contains(const storage::ip_address& a) const noexcept {
  return a.v6 ? find(v6_, a.v6_value) : find(v4_, a.v4_value);
}

}  // namespace callsign::rules
