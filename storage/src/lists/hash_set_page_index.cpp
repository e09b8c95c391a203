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
  index.sample_.reserve(padded / sample_stride);
  for (std::uint64_t p = 0; p < pages; p += sample_stride) index.sample_.push_back(index.keys_[p]);
  return index;
}

hash_set_page_index::page_range hash_set_page_index::find(std::uint64_t key) const noexcept {
  if (pages_ == 0) return {};
  // below = how many pages start below `key`. First the sample (branch-free lower_bound) ...
  const std::uint64_t* base = sample_.data();
  std::size_t n = sample_.size();
  while (n > 1) {
    const std::size_t half = n / 2;
    base = base[half] < key ? base + half : base;
    n -= half;
  }
  const std::uint64_t sampled = static_cast<std::uint64_t>(base - sample_.data()) + (*base < key ? 1U : 0U);
  std::uint64_t below = 0;
  if (sampled > 0) {
    // ... then the 31 keys between two samples: keys_[(sampled - 1) * 32] < key, and
    // keys_[sampled * 32] >= key (or is past the end). The ~0 padding never counts.
    const std::uint64_t* run = keys_ + (sampled - 1) * sample_stride;
    below = (sampled - 1) * sample_stride + 1;
    for (std::uint64_t i = 1; i < sample_stride; ++i) below += run[i] < key ? 1U : 0U;
  }
  below = std::min(below, pages_);
  std::uint64_t end = below;
  while (end < pages_ && keys_[end] == key) ++end;  // pages starting with this very prefix
  return {below == 0 ? 0 : below - 1, end};
}

}  // namespace callsign::storage
