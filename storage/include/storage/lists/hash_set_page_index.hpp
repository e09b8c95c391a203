// The page index of a set file, in memory (format in hash_set_format.hpp): for every 4 KiB data
// page, its first entry's first 8 bytes as a big-endian number. The keys live in a
// huge_page_buffer (3.2 MB at 100M 16-byte entries, 16 MB at a billion 8-byte
// ones), so searching them costs no TLB miss. Every 32nd key is copied to a sample, and a radix
// table over the samples' top bits (about one sample per slot) finds a key's sample without a
// search; both stay in cache (100 KB and 64 KB at 100M entries). find() then searches one
// 32-key node of the index without branches, so a lookup's only uncached reads are that node
// (256 bytes) and then one data page. Few instructions per lookup also let the CPU overlap the
// misses of consecutive lookups.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "crypto/result.hpp"
#include "storage/lists/huge_page_buffer.hpp"

namespace callsign::storage {

// floor(x * n / (span + 1)) for x <= span and n <= 2^20, to within one, in 64-bit integer
// arithmetic: interpolation without a 128-bit division or a float conversion.
inline std::uint64_t scale_position(std::uint64_t x, std::uint64_t span, std::uint64_t n) noexcept {
  const unsigned drop = (span >> 40) != 0 ? 24 - static_cast<unsigned>(__builtin_clzll(span)) : 0;
  return ((x >> drop) * n) / ((span >> drop) + 1);
}

// Thread safety: immutable after load(); find() and key() may be called concurrently.
class hash_set_page_index {
 public:
  hash_set_page_index() = default;

  // Reads `pages` keys from `fd` at `offset` with pread; fails (invalid_input) if they are not
  // in ascending order, (unavailable) if they cannot be read or memory cannot be mapped.
  static result<hash_set_page_index> load(int fd, std::uint64_t offset, std::uint64_t pages);

  // Pages [begin, end) that can hold an entry whose first 8 bytes are `key`: from the last page
  // whose first key is below `key` through the last page whose first key equals it. Empty when
  // every page's first key is above `key`.
  struct page_range {
    std::uint64_t begin = 0;
    std::uint64_t end = 0;
    std::uint64_t hint = 0;  // a page near begin, known before the uncached read; for prefetching
  };
  page_range find(std::uint64_t key) const noexcept;

  std::uint64_t pages() const noexcept { return pages_; }
  std::uint64_t key(std::uint64_t page) const noexcept { return keys_[page]; }

  static constexpr std::uint64_t sample_stride = 32;

 private:
  huge_page_buffer memory_;
  std::uint64_t* keys_ = nullptr;  // in memory_: pages_ keys, then ~0 up to a multiple of 32
  std::uint64_t pages_ = 0;
  static constexpr std::uint32_t radix_run = 4;
  std::vector<std::uint64_t> sample_;  // keys_[0], keys_[32], ..., then radix_run times ~0
  std::vector<std::uint32_t> radix_;   // samples below each slot's first key (see load())
  unsigned radix_shift_ = 63;
};

}  // namespace callsign::storage
