// The IPv4 half of ip_set: one 64-byte cache line per /16 (65,536 lines, 4 MB, in a
// huge_page_buffer), holding the pieces of the merged intervals that fall in that /16 as up to
// 16 pairs of 16-bit [lo, hi] offsets. A lookup reads the one line its address's top 16 bits
// name and compares all 16 pairs without branches: one memory access, no search. A /16 with more
// than 16 pieces (dense ranges of a clustered list) is marked in its line and its pieces go to a
// sorted overflow array, binary-searched.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "storage/lists/huge_page_buffer.hpp"

namespace callsign::storage {

// Thread safety: immutable after build(); contains() may be called concurrently. Move-only.
class ip_v4_table {
 public:
  ip_v4_table() = default;

  // `intervals`: sorted, disjoint, non-adjacent [first, last] (what ip_set merges prefixes
  // into). Throws std::bad_alloc when memory runs out.
  static ip_v4_table build(const std::vector<std::pair<std::uint32_t, std::uint32_t>>& intervals);

  bool contains(std::uint32_t address) const noexcept;

  std::size_t overflow_lines() const noexcept { return overflow_lines_; }

  static constexpr std::size_t pairs_per_line = 16;

 private:
  struct line {
    std::uint16_t lo[pairs_per_line];
    std::uint16_t hi[pairs_per_line];
  };
  static_assert(sizeof(line) == 64);

  huge_page_buffer memory_;
  const line* lines_ = nullptr;                       // 65,536 lines when non-empty
  std::vector<std::pair<std::uint16_t, std::uint16_t>> overflow_;  // by line, then lo
  std::size_t overflow_lines_ = 0;
};

}  // namespace callsign::storage
