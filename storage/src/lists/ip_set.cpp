#include "storage/lists/ip_set.hpp"

#include <algorithm>
#include <utility>

namespace callsign::storage {
namespace {

template <class T>
void merge_intervals(std::vector<std::pair<T, T>>& ranges, std::vector<T>& lo, std::vector<T>& hi) {
  std::sort(ranges.begin(), ranges.end());
  for (const auto& [first, last] : ranges) {
    // Adjacent ranges merge too: hi + 1 == first (hi is never the maximum when it overflows
    // nothing could follow, so the check is guarded).
    if (!lo.empty() && (first <= hi.back() || (hi.back() != static_cast<T>(~T{0}) && first == hi.back() + 1))) {
      hi.back() = std::max(hi.back(), last);
    } else {
      lo.push_back(first);
      hi.push_back(last);
    }
  }
}

template <class T, unsigned Bits>
std::vector<std::uint32_t> bucket_index(const std::vector<T>& lo, std::size_t buckets) {
  std::vector<std::uint32_t> index(buckets + 1);
  std::size_t i = 0;
  for (std::size_t b = 0; b < buckets; ++b) {
    while (i < lo.size() && static_cast<std::size_t>(lo[i] >> (Bits - 16)) < b) ++i;
    index[b] = static_cast<std::uint32_t>(i);
  }
  index[buckets] = static_cast<std::uint32_t>(lo.size());
  return index;
}

// Last interval with lo <= x, searched within [begin, end) of its bucket; the interval just
// before the bucket is the candidate when none in the bucket starts at or below x.
template <class T>
bool find_interval(const std::vector<T>& lo, const std::vector<T>& hi, std::uint32_t begin, std::uint32_t end,
                   T x) noexcept {
  const T* base = lo.data() + begin;
  std::size_t n = end - begin;
  // Branch-free upper_bound: the loop count depends only on n.
  while (n > 1) {
    const std::size_t half = n / 2;
    base = (base[half] <= x) ? base + half : base;
    n -= half;
  }
  std::size_t pos = static_cast<std::size_t>(base - lo.data());
  if (end > begin && *base <= x) ++pos;  // pos = first index with lo > x
  if (pos == 0) return false;
  return x <= hi[pos - 1];
}

}  // namespace

ip_set ip_set::build(const std::vector<ip_prefix>& prefixes) {
  std::vector<std::pair<std::uint32_t, std::uint32_t>> v4;
  std::vector<std::pair<uint128, uint128>> v6;
  for (const ip_prefix& p : prefixes) {
    if (p.address.v6) {
      const unsigned len = std::min(p.length, 128U);
      const uint128 host = len == 0 ? ~uint128{0} : len == 128 ? uint128{0} : (~uint128{0} >> len);
      v6.emplace_back(p.address.v6_value & ~host, p.address.v6_value | host);
    } else {
      const unsigned len = std::min(p.length, 32U);
      const std::uint32_t host = len == 0 ? ~0U : len == 32 ? 0U : (~0U >> len);
      v4.emplace_back(p.address.v4_value & ~host, p.address.v4_value | host);
    }
  }
  ip_set set;
  set.entries_ = prefixes.size();
  merge_intervals(v4, set.v4_lo_, set.v4_hi_);
  merge_intervals(v6, set.v6_lo_, set.v6_hi_);
  set.v4_index_ = bucket_index<std::uint32_t, 32>(set.v4_lo_, buckets);
  set.v6_index_ = bucket_index<uint128, 128>(set.v6_lo_, buckets);
  return set;
}

bool ip_set::contains(const ip_address& address) const noexcept {
  if (address.v6) {
    if (v6_lo_.empty()) return false;
    const auto b = static_cast<std::size_t>(address.v6_value >> 112);
    return find_interval(v6_lo_, v6_hi_, v6_index_[b], v6_index_[b + 1], address.v6_value);
  }
  if (v4_lo_.empty()) return false;
  const std::size_t b = address.v4_value >> 16;
  return find_interval(v4_lo_, v4_hi_, v4_index_[b], v4_index_[b + 1], address.v4_value);
}

}  // namespace callsign::storage
