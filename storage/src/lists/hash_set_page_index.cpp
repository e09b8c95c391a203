#include "storage/lists/hash_set_page_index.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace callsign::storage {

result<hash_set_page_index> hash_set_page_index::load(int fd, std::uint64_t offset, std::uint64_t pages) {
  hash_set_page_index index;
  index.pages_ = pages;
  if (pages == 0) return index;
  const std::uint64_t padded = (pages + sample_stride - 1) / sample_stride * sample_stride;
  index.memory_ = huge_page_buffer::allocate(padded * sizeof(std::uint64_t));
  if (index.memory_.data() == nullptr) {
    return make_error(error_kind::unavailable, "cannot allocate memory for the set file's page index");
  }
  index.keys_ = reinterpret_cast<std::uint64_t*>(index.memory_.data());
  auto* bytes = reinterpret_cast<std::uint8_t*>(index.keys_);
  const std::size_t total = pages * sizeof(std::uint64_t);
  std::size_t done = 0;
  while (done < total) {
    const ssize_t got = ::pread(fd, bytes + done, total - done, static_cast<off_t>(offset + done));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return make_error(error_kind::unavailable, "cannot read the set file's page index");
    done += static_cast<std::size_t>(got);
  }
  for (std::uint64_t p = 0; p < pages; ++p) {
    index.keys_[p] = __builtin_bswap64(index.keys_[p]);  // stored as entry bytes: big-endian
    if (p > 0 && index.keys_[p] < index.keys_[p - 1]) {
      return make_error(error_kind::invalid_input, "set file page index is out of order (corrupted)");
    }
  }
  std::fill(index.keys_ + pages, index.keys_ + padded, ~std::uint64_t{0});
  // sample_ = keys_[0], keys_[32], ..., then ~0 for the fixed-width count in find().
  const std::uint64_t samples = padded / sample_stride;
  index.sample_.assign(samples + radix_run, ~std::uint64_t{0});
  for (std::uint64_t i = 0; i < samples; ++i) index.sample_[i] = index.keys_[i * sample_stride];
  // radix_[r] = how many samples are below r << radix_shift_, with about one sample per slot.
  unsigned bits = 0;
  while ((std::uint64_t{1} << bits) < samples) ++bits;
  bits = std::max(bits, 1U);
  index.radix_shift_ = 64 - bits;
  index.radix_.assign((std::size_t{1} << bits) + 1, static_cast<std::uint32_t>(samples));
  std::uint64_t below = 0;
  for (std::uint64_t r = 0; r < (std::uint64_t{1} << bits); ++r) {
    while (below < samples && index.sample_[below] < (r << index.radix_shift_)) ++below;
    index.radix_[r] = static_cast<std::uint32_t>(below);
  }
  return index;
}

namespace {

// Within one node of 32 ascending keys: how many are below `key` (a branch-free binary search;
// a node that ends early is padded with ~0, which is never below).
std::uint64_t count_below_in_node(const std::uint64_t* node, std::uint64_t key) noexcept {
  const std::uint64_t* base = node;
  for (std::size_t n = hash_set_page_index::sample_stride; n > 1;) {
    const std::size_t half = n / 2;
    base = base[half] < key ? base + half : base;
    n -= half;
  }
  return static_cast<std::uint64_t>(base - node) + (*base < key ? 1U : 0U);
}

}  // namespace

hash_set_page_index::page_range hash_set_page_index::find(std::uint64_t key) const noexcept {
  if (pages_ == 0) return {};
  // below = how many pages start below `key`. The samples below it: those of the radix slots
  // before key's slot, plus a count over the (usually 0 to 2) samples in its slot. Then one
  // node (32 keys, 256 bytes) of keys_. All of it without branches, except for a slot holding
  // more than radix_run samples.
  const std::uint64_t slot = key >> radix_shift_;
  const std::uint32_t from = radix_[slot];
  const std::uint32_t in_slot = radix_[slot + 1] - from;
  std::uint64_t in_sample = from;
  if (in_slot <= radix_run) [[likely]] {
    for (std::uint32_t i = 0; i < radix_run; ++i) {
      in_sample += static_cast<std::uint64_t>((i < in_slot) & (sample_[from + i] < key));
    }
  } else {
    for (std::uint32_t i = 0; i < in_slot; ++i) in_sample += sample_[from + i] < key ? 1U : 0U;
  }
  // A guess at the page, interpolated between the two samples around `key`, before the node of
  // keys below is read: the caller prefetches it, so its page walk overlaps that read (the
  // guess is a few pages off, but its page-table entries share a cache line with the right one's).
  std::uint64_t hint = 0;
  if (in_sample > 0) {  // sample_[left] < key <= sample_[left + 1] (~0 past the end)
    const std::uint64_t left = in_sample - 1;
    const std::uint64_t offset = scale_position(key - sample_[left], sample_[left + 1] - sample_[left], sample_stride);
    hint = std::min(left * sample_stride + offset, pages_ - 1);
  }
  std::uint64_t below = 0;
  if (in_sample > 0) {
    const std::uint64_t* run = keys_ + (in_sample - 1) * sample_stride;
    for (std::size_t line = 0; line < sample_stride; line += 8) __builtin_prefetch(run + line);
    below = (in_sample - 1) * sample_stride + count_below_in_node(run, key);
  }
  below = std::min(below, pages_);
  std::uint64_t end = below;
  while (end < pages_ && keys_[end] == key) ++end;  // pages starting with this very prefix
  return {below == 0 ? 0 : below - 1, end, hint};
}

}  // namespace callsign::storage
