// An immutable set of IPv4 and IPv6 addresses and CIDR blocks (the open-proxy list).
// Prefixes are merged at build time into sorted disjoint [lo, hi] intervals. IPv4 intervals go
// into ip_v4_table: one cache line per /16, read and compared without a search. IPv6 intervals
// stay a sorted array with a 65,536-bucket index over the span they actually cover (so lists
// crowded into 2000::/3 spread over all buckets): a lookup reads the index, prefetches the
// bucket's lines, then binary-searches its few intervals. No strings, no hashing. The arrays
// live in huge_page_buffers, so lookups over them take no TLB misses.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "storage/lists/huge_page_buffer.hpp"
#include "storage/lists/ip_address.hpp"
#include "storage/lists/ip_v4_table.hpp"

namespace callsign::storage {

struct ip_prefix {
  ip_address address;
  unsigned length = 0;  // 0..32 for IPv4, 0..128 for IPv6
};

// Thread safety: immutable after build(); contains() may be called concurrently. Move-only.
class ip_set {
 public:
  ip_set() = default;

  // Host bits below `length` are ignored, overlapping and adjacent prefixes are merged.
  // Throws std::bad_alloc when memory runs out, like the vectors it builds in.
  static ip_set build(const std::vector<ip_prefix>& prefixes);

  bool contains(const ip_address& address) const noexcept;

  std::size_t entries() const noexcept { return entries_; }  // prefixes given to build()
  std::size_t v4_intervals() const noexcept { return v4_intervals_; }
  std::size_t v6_intervals() const noexcept { return v6_.count; }

 private:
  static constexpr std::size_t buckets = 65536;

  // index[b] = first interval with ((lo - origin) >> shift) >= b; index[buckets] = size. A
  // value's bucket is min((x - origin) >> shift, buckets - 1); x < origin matches nothing.
  // lo and hi interleaved: the interval a search ends on is in the cache line it just read.
  template <class T>
  struct interval {
    T lo, hi;
  };
  template <class T>
  struct family {
    const interval<T>* intervals = nullptr;  // in memory_
    std::size_t count = 0;
    const std::uint32_t* index = nullptr;  // in memory_; buckets + 1 entries when count > 0
    T origin = 0;
    unsigned shift = 0;
    bool contains(T x) const noexcept;
  };
  template <class T>
  struct staged;  // a family while it is built, in vectors

  ip_v4_table v4_;
  family<uint128> v6_;
  std::size_t v4_intervals_ = 0;
  std::size_t entries_ = 0;
  huge_page_buffer memory_;  // the IPv6 intervals and bucket index
};

}  // namespace callsign::storage
