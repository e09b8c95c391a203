#include "storage/lists/ip_v4_table.hpp"

#include <algorithm>
#include <cstring>
#include <new>

namespace callsign::storage {
namespace {

constexpr std::size_t lines = 65536;
// An unused pair has lo > hi, so it never matches. An overflowing line starts with a pair that
// cannot be a piece either, and keeps its overflow range [begin, end) in pairs 1 and 2.
constexpr std::uint16_t empty_lo = 0xffff;
constexpr std::uint16_t empty_hi = 0x0000;
constexpr std::uint16_t overflow_lo = 0xfffe;
constexpr std::uint16_t overflow_hi = 0x0000;

}  // namespace

ip_v4_table ip_v4_table::build(const std::vector<std::pair<std::uint32_t, std::uint32_t>>& intervals) {
  ip_v4_table table;
  if (intervals.empty()) return table;
  // Pieces per /16, in order: an interval spanning several /16s is cut at their edges.
  std::vector<std::uint32_t> counts(lines, 0);
  for (const auto& [first, last] : intervals) {
    for (std::uint32_t b = first >> 16; b <= (last >> 16); ++b) ++counts[b];
  }
  table.memory_ = huge_page_buffer::allocate(lines * sizeof(line));
  if (table.memory_.data() == nullptr) throw std::bad_alloc();
  auto* out = reinterpret_cast<line*>(table.memory_.data());
  std::vector<std::uint32_t> used(lines, 0);
  for (std::size_t b = 0; b < lines; ++b) {
    std::fill(std::begin(out[b].lo), std::end(out[b].lo), empty_lo);
    std::fill(std::begin(out[b].hi), std::end(out[b].hi), empty_hi);
    if (counts[b] > pairs_per_line) {
      const auto begin = static_cast<std::uint32_t>(table.overflow_.size());
      table.overflow_.resize(table.overflow_.size() + counts[b]);
      out[b].lo[0] = overflow_lo;
      out[b].hi[0] = overflow_hi;
      out[b].lo[1] = static_cast<std::uint16_t>(begin >> 16);
      out[b].hi[1] = static_cast<std::uint16_t>(begin);
      out[b].lo[2] = static_cast<std::uint16_t>(counts[b] >> 16);
      out[b].hi[2] = static_cast<std::uint16_t>(counts[b]);
      ++table.overflow_lines_;
    }
  }
  for (const auto& [first, last] : intervals) {
    for (std::uint32_t b = first >> 16; b <= (last >> 16); ++b) {
      const auto lo = static_cast<std::uint16_t>(b == (first >> 16) ? first : 0U);
      const auto hi = static_cast<std::uint16_t>(b == (last >> 16) ? last : 0xffffU);
      if (counts[b] > pairs_per_line) {
        const std::uint32_t begin = (std::uint32_t{out[b].lo[1]} << 16) | out[b].hi[1];
        table.overflow_[begin + used[b]] = {lo, hi};
      } else {
        out[b].lo[used[b]] = lo;
        out[b].hi[used[b]] = hi;
      }
      ++used[b];
    }
  }
  table.lines_ = out;
  return table;
}

bool ip_v4_table::contains(std::uint32_t address) const noexcept {
  if (lines_ == nullptr) return false;
  const line& l = lines_[address >> 16];
  const auto offset = static_cast<std::uint16_t>(address);
  if (l.lo[0] == overflow_lo && l.hi[0] == overflow_hi) [[unlikely]] {
    const std::uint32_t begin = (std::uint32_t{l.lo[1]} << 16) | l.hi[1];
    const std::uint32_t count = (std::uint32_t{l.lo[2]} << 16) | l.hi[2];
    const auto* first = overflow_.data() + begin;
    // Last piece with lo <= offset; pieces are disjoint and sorted.
    const auto* it = std::upper_bound(first, first + count, offset,
                                      [](std::uint16_t v, const auto& piece) { return v < piece.first; });
    return it != first && offset <= (it - 1)->second;
  }
  unsigned hit = 0;
  for (std::size_t i = 0; i < pairs_per_line; ++i) {
    hit |= static_cast<unsigned>(l.lo[i] <= offset) & static_cast<unsigned>(offset <= l.hi[i]);
  }
  return hit != 0;
}

}  // namespace callsign::storage
