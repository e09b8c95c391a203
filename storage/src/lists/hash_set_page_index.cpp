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
  // sample_ = keys_[0], keys_[32], ... padded with ~0 to whole nodes; top_ = sample_[0], [32], ...
  const std::uint64_t samples = padded / sample_stride;
  index.sample_.assign((samples + sample_stride - 1) / sample_stride * sample_stride, ~std::uint64_t{0});
  for (std::uint64_t i = 0; i < samples; ++i) index.sample_[i] = index.keys_[i * sample_stride];
  for (std::uint64_t i = 0; i < samples; i += sample_stride) index.top_.push_back(index.sample_[i]);
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
  // below = how many pages start below `key`, found like in a B-tree of fan-out 32 whose two
  // upper levels (top_, sample_) stay in cache: top_ by binary search, then one node of
  // sample_, then one node (256 bytes) of keys_, all without branches.
  const std::uint64_t* base = top_.data();
  for (std::size_t n = top_.size(); n > 1;) {
    const std::size_t half = n / 2;
    base = base[half] < key ? base + half : base;
    n -= half;
  }
  const std::uint64_t in_top = static_cast<std::uint64_t>(base - top_.data()) + (*base < key ? 1U : 0U);
  // top_[t] = sample_[32 t]: the sample entries below `key` are those of nodes before in_top - 1
  // plus a count within node in_top - 1 (none when in_top is 0: every key is above).
  const std::uint64_t node = in_top == 0 ? 0 : in_top - 1;
  const std::uint64_t in_sample =
      in_top == 0 ? 0 : node * sample_stride + count_below_in_node(sample_.data() + node * sample_stride, key);
  // A guess at the page, interpolated between the two samples around `key`, before the node of
  // keys below is read: the caller prefetches it, so its page walk overlaps that read (the
  // guess is a few pages off, but its page-table entries share a cache line with the right one's).
  std::uint64_t hint = 0;
  if (in_sample > 0) {  // sample_[left] < key <= sample_[left + 1] (~0 past the end)
    const std::uint64_t left = in_sample - 1;
    const std::uint64_t right_key = left + 1 < sample_.size() ? sample_[left + 1] : ~std::uint64_t{0};
    const double fraction =
        static_cast<double>(key - sample_[left]) / (static_cast<double>(right_key - sample_[left]) + 1.0);
    hint = std::min(left * sample_stride + static_cast<std::uint64_t>(fraction * sample_stride), pages_ - 1);
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
