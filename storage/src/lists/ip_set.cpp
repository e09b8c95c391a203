#include "storage/lists/ip_set.hpp"

#include <algorithm>
#include <utility>

namespace callsign::storage {
namespace {

template <class T, class Interval>
void merge_intervals(std::vector<std::pair<T, T>>& ranges, std::vector<Interval>& out) {
  std::sort(ranges.begin(), ranges.end());
  out.reserve(ranges.size());
  for (const auto& [first, last] : ranges) {
    // Overlapping or adjacent (hi + 1 == first; hi is never the maximum value then) merge.
    if (!out.empty() &&
        (first <= out.back().hi || (out.back().hi != static_cast<T>(~T{0}) && first == out.back().hi + 1))) {
      out.back().hi = std::max(out.back().hi, last);
    } else {
      out.push_back(Interval{first, last});
    }
  }
}

template <class T>
unsigned bit_width_of(T v) noexcept {
  unsigned bits = 0;
  while (v != 0) {
    v >>= 1;
    ++bits;
  }
  return bits;
}

}  // namespace

template <class T>
void ip_set::family<T>::build_index() {
  index.assign(buckets + 1, static_cast<std::uint32_t>(intervals.size()));
  if (intervals.empty()) return;
  origin = intervals.front().lo;
  const unsigned width = bit_width_of(static_cast<T>(intervals.back().lo - origin));
  shift = width > 16 ? width - 16 : 0;
  std::size_t i = 0;
  for (std::size_t b = 0; b < buckets; ++b) {
    while (i < intervals.size() && static_cast<std::size_t>((intervals[i].lo - origin) >> shift) < b) ++i;
    index[b] = static_cast<std::uint32_t>(i);
  }
}

template <class T>
bool ip_set::family<T>::contains(T x) const noexcept {
  if (intervals.empty() || x < origin) return false;
  const T offset = static_cast<T>((x - origin) >> shift);
  const std::size_t b = offset >= buckets ? buckets - 1 : static_cast<std::size_t>(offset);
  const std::uint32_t begin = index[b];
  const std::uint32_t end = index[b + 1];
  // Last interval with lo <= x: searched in the bucket; the interval just before the bucket is
  // the candidate when none in it starts at or below x (every earlier lo is below x).
  const interval<T>* base = intervals.data() + begin;
  std::size_t n = end - begin;
  while (n > 1) {  // branch-free upper_bound: the loop count depends only on n
    const std::size_t half = n / 2;
    base = (base[half].lo <= x) ? base + half : base;
    n -= half;
  }
  std::size_t pos = static_cast<std::size_t>(base - intervals.data());
  if (end > begin && base->lo <= x) ++pos;  // pos = first index with lo > x
  return pos != 0 && x <= intervals[pos - 1].hi;
}

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
  merge_intervals(v4, set.v4_.intervals);
  merge_intervals(v6, set.v6_.intervals);
  set.v4_.build_index();
  set.v6_.build_index();
  return set;
}

bool ip_set::contains(const ip_address& address) const noexcept {
  return address.v6 ? v6_.contains(address.v6_value) : v4_.contains(address.v4_value);
}

}  // namespace callsign::storage
