#include "storage/lists/ip_set.hpp"

#include <algorithm>
#include <cstring>
#include <new>
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
struct ip_set::staged {
  std::vector<interval<T>> intervals;
  std::vector<std::uint32_t> index;
  T origin = 0;
  unsigned shift = 0;

  void build_index() {
    if (intervals.empty()) return;
    index.assign(buckets + 1, static_cast<std::uint32_t>(intervals.size()));
    origin = intervals.front().lo;
    const unsigned width = bit_width_of(static_cast<T>(intervals.back().lo - origin));
    shift = width > 16 ? width - 16 : 0;
    std::size_t i = 0;
    for (std::size_t b = 0; b < buckets; ++b) {
      while (i < intervals.size() && static_cast<std::size_t>((intervals[i].lo - origin) >> shift) < b) ++i;
      index[b] = static_cast<std::uint32_t>(i);
    }
  }
  std::size_t bytes() const { return intervals.size() * sizeof(interval<T>) + index.size() * sizeof(std::uint32_t); }

  // Copies the arrays to `at` (suitably aligned) and points `out` at them; returns the end.
  std::uint8_t* place(std::uint8_t* at, family<T>& out) const {
    out.count = intervals.size();
    out.origin = origin;
    out.shift = shift;
    if (intervals.empty()) return at;
    std::memcpy(at, intervals.data(), intervals.size() * sizeof(interval<T>));
    out.intervals = reinterpret_cast<const interval<T>*>(at);
    at += intervals.size() * sizeof(interval<T>);
    std::memcpy(at, index.data(), index.size() * sizeof(std::uint32_t));
    out.index = reinterpret_cast<const std::uint32_t*>(at);
    return at + index.size() * sizeof(std::uint32_t);
  }
};

template <class T>
bool ip_set::family<T>::contains(T x) const noexcept {
  if (count == 0 || x < origin) return false;
  const T offset = static_cast<T>((x - origin) >> shift);
  const std::size_t b = offset >= buckets ? buckets - 1 : static_cast<std::size_t>(offset);
  const std::uint32_t begin = index[b];
  const std::uint32_t end = index[b + 1];
  // Last interval with lo <= x: searched in the bucket; the interval just before the bucket is
  // the candidate when none in it starts at or below x (every earlier lo is below x).
  // Ask for every cache line the search below can read (the interval before the bucket through
  // the bucket's last, capped at four lines) at once, so their misses overlap instead of
  // following one another down the binary search.
  const auto* first_byte = reinterpret_cast<const char*>(intervals + (begin == 0 ? 0 : begin - 1));
  const auto* last_byte = reinterpret_cast<const char*>(intervals + (end == 0 ? 0 : end - 1));
  __builtin_prefetch(first_byte);
  __builtin_prefetch(std::min(first_byte + 64, last_byte));
  __builtin_prefetch(std::min(first_byte + 128, last_byte));
  __builtin_prefetch(std::min(first_byte + 192, last_byte));
  const interval<T>* base = intervals + begin;
  std::size_t n = end - begin;
  while (n > 1) {  // branch-free upper_bound: the loop count depends only on n
    const std::size_t half = n / 2;
    base = (base[half].lo <= x) ? base + half : base;
    n -= half;
  }
  std::size_t pos = static_cast<std::size_t>(base - intervals);
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
  std::vector<interval<std::uint32_t>> merged4;
  merge_intervals(v4, merged4);
  std::vector<std::pair<std::uint32_t, std::uint32_t>> pieces4;
  pieces4.reserve(merged4.size());
  for (const auto& i : merged4) pieces4.emplace_back(i.lo, i.hi);
  staged<uint128> s6;
  merge_intervals(v6, s6.intervals);
  s6.build_index();
  ip_set set;
  set.entries_ = prefixes.size();
  set.v4_intervals_ = merged4.size();
  set.v4_ = ip_v4_table::build(pieces4);
  set.memory_ = huge_page_buffer::allocate(s6.bytes());
  if (set.memory_.data() == nullptr && s6.bytes() > 0) throw std::bad_alloc();
  s6.place(set.memory_.data(), set.v6_);
  return set;
}

bool ip_set::contains(const ip_address& address) const noexcept {
  return address.v6 ? v6_.contains(address.v6_value) : v4_.contains(address.v4_value);
}

}  // namespace callsign::storage
