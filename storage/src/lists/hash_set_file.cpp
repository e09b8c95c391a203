#include "storage/lists/hash_set_file.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "crypto/constant_time.hpp"
#include "crypto/sha256_stream.hpp"

namespace callsign::storage {
namespace {

std::uint64_t prefix64(const std::uint8_t* p) noexcept {
  std::uint64_t v = 0;
  std::memcpy(&v, p, sizeof v);
  return __builtin_bswap64(v);  // entries are byte strings; big-endian load keeps their order
}

error unreadable(const std::filesystem::path& path, int err) {
  return make_error(error_kind::unavailable, "cannot read set file " + path.string() + ": " + std::strerror(err));
}

}  // namespace

result<hash_set_file> hash_set_file::open(const std::filesystem::path& path, hash_set_kind expected) {
  hash_set_file file;
  file.fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (file.fd_ < 0) {
    if (errno == ENOENT) return make_error(error_kind::not_found, "set file " + path.string() + " does not exist");
    return unreadable(path, errno);
  }
  struct stat st {};
  if (::fstat(file.fd_, &st) != 0) return unreadable(path, errno);
  if (!S_ISREG(st.st_mode)) return make_error(error_kind::invalid_input, "set file is not a regular file");
  const auto size = static_cast<std::uint64_t>(st.st_size);
  std::array<std::uint8_t, hash_set_header_size> head{};
  if (size < head.size()) return make_error(error_kind::invalid_input, "set file is shorter than its 128-byte header");
  if (::pread(file.fd_, head.data(), head.size(), 0) != static_cast<ssize_t>(head.size())) return unreadable(path, errno);
  auto header = decode_hash_set_header(head);
  if (!header) return header.error();
  if (header->kind != expected) {
    return make_error(error_kind::invalid_input, "set file holds " + std::string(hash_set_kind_name(header->kind)) +
                                                     ", not " + std::string(hash_set_kind_name(expected)));
  }
  file.header_ = *header;
  file.width_ = hash_set_entry_width(header->kind);
  if (size != hash_set_file_size(header->count, file.width_)) {
    return make_error(error_kind::invalid_input,
                      "set file size does not match its entry count (truncated or padded)");
  }
  const std::uint64_t index_offset = hash_set_index_offset(header->count, file.width_);
  auto index = hash_set_page_index::load(file.fd_, index_offset, hash_set_pages(header->count, file.width_));
  if (!index) return index.error();
  file.index_ = std::move(index).value();
  // Only the entries are mapped; the index was copied into memory above.
  file.map_size_ = static_cast<std::size_t>(index_offset);
  void* mapped = ::mmap(nullptr, file.map_size_, PROT_READ, MAP_SHARED, file.fd_, 0);
  if (mapped == MAP_FAILED) return unreadable(path, errno);
  file.map_ = static_cast<const std::uint8_t*>(mapped);
  ::madvise(mapped, file.map_size_, MADV_RANDOM);  // lookups touch one page each; no read-ahead
  file.guard_ = mapping_guard(mapped, file.map_size_);  // a truncation under us must not end the process
  return file;
}

hash_set_file::hash_set_file(hash_set_file&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      map_(std::exchange(other.map_, nullptr)),
      map_size_(std::exchange(other.map_size_, 0)),
      width_(other.width_),
      header_(other.header_),
      index_(std::move(other.index_)),
      guard_(std::move(other.guard_)) {}

hash_set_file& hash_set_file::operator=(hash_set_file&& other) noexcept {
  hash_set_file moved(std::move(other));
  std::swap(fd_, moved.fd_);
  std::swap(map_, moved.map_);
  std::swap(map_size_, moved.map_size_);
  width_ = moved.width_;
  header_ = moved.header_;
  std::swap(index_, moved.index_);
  std::swap(guard_, moved.guard_);
  return *this;  // `moved` now owns and releases the old mapping
}

hash_set_file::~hash_set_file() {
  guard_ = mapping_guard();  // unregistered before the range is unmapped and can be reused
  if (map_ != nullptr) ::munmap(const_cast<std::uint8_t*>(map_), map_size_);
  if (fd_ >= 0) ::close(fd_);
}

bool hash_set_file::contains(std::span<const std::uint8_t> entry) const noexcept {
  if (entry.size() != width_ || header_.count == 0) return false;
  const std::uint8_t* base = map_ + hash_set_header_size;
  const std::uint64_t key = prefix64(entry.data());
  const std::uint64_t rest = width_ == 16 ? prefix64(entry.data() + 8) : 0;
  const auto pages = index_.find(key);
  // The first entry of page p, with a shift (width is 8 or 16) rather than a division.
  const unsigned shift = width_ == 16 ? 4 : 3;
  auto page_entry = [&](std::uint64_t p) noexcept {
    return p == 0 ? 0 : (p * hash_set_page_size - hash_set_header_size) >> shift;
  };
  __builtin_prefetch(base + (page_entry(pages.hint) << shift));
  if (pages.begin == pages.end) return false;
  // Entries [first, last) are those of the pages; their prefixes lie in [key_lo, key_hi].
  const std::uint64_t first = page_entry(pages.begin);
  const std::uint64_t last = pages.end == index_.pages() ? header_.count : page_entry(pages.end);
  const std::uint64_t key_lo = index_.key(pages.begin);
  const std::uint64_t key_hi = pages.end == index_.pages() ? ~std::uint64_t{0} : index_.key(pages.end);
  auto below = [&](std::uint64_t i) noexcept {  // entry i sorts before the wanted entry; no branch
    const std::uint8_t* e = base + (i << shift);
    const std::uint64_t head = prefix64(e);
    const std::uint64_t tail = width_ == 16 ? prefix64(e + 8) : 0;
    return (head < key) | ((head == key) & (tail < rest));
  };
  // Interpolation guess (uniform hashes: about 8 entries off in a 256-entry page).
  const std::uint64_t guess = std::min(first + scale_position(key - key_lo, key_hi - key_lo, last - first), last - 1);
  // A window of +-24 entries around it: its cache lines are requested together, then searched
  // without branches. The answer is exact unless it lands on a window edge that is not a range
  // edge (more than 3 standard deviations off); then the whole range is searched.
  const std::uint64_t window_lo = guess - std::min<std::uint64_t>(guess - first, search_window);
  const std::uint64_t window_hi = std::min(guess + search_window + 1, last);
  const std::uint8_t* line = base + (window_lo << shift);
  const std::uint8_t* window_end = base + (window_hi << shift);
  for (line -= reinterpret_cast<std::uintptr_t>(line) % 64; line < window_end; line += 64) __builtin_prefetch(line);
  std::uint64_t lo = window_lo;
  for (std::uint64_t n = window_hi - window_lo; n > 1;) {
    const std::uint64_t half = n / 2;
    lo = below(lo + half) ? lo + half : lo;
    n -= half;
  }
  lo += below(lo) ? 1U : 0U;  // the first entry in the window not below the wanted one
  if ((lo == window_lo && window_lo != first) || (lo == window_hi && window_hi != last)) {
    lo = first;
    std::uint64_t hi = last;
    while (lo < hi) {
      const std::uint64_t mid = lo + (hi - lo) / 2;
      if (below(mid)) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
  }
  if (lo == last) return false;
  const std::uint8_t* found = base + (lo << shift);
  return prefix64(found) == key && (width_ == 8 || prefix64(found + 8) == rest);
}

result<void> hash_set_file::verify_checksum() const {
  crypto::sha256_stream digest;
  std::vector<std::uint8_t> buffer(1 << 20);
  buffer.resize(buffer.size() - buffer.size() % width_);
  std::array<std::uint8_t, 16> previous{};
  bool have_previous = false;
  std::uint64_t offset = hash_set_header_size;
  while (offset < map_size_) {
    const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(buffer.size(), map_size_ - offset));
    const ssize_t got = ::pread(fd_, buffer.data(), want, static_cast<off_t>(offset));
    if (got != static_cast<ssize_t>(want)) {
      return make_error(error_kind::unavailable, "cannot read the set file's entries");
    }
    for (std::size_t i = 0; i < want; i += width_) {
      if (have_previous && std::memcmp(previous.data(), buffer.data() + i, width_) >= 0) {
        return make_error(error_kind::invalid_input,
                          "set file entry " + std::to_string((offset - hash_set_header_size + i) / width_ + 1) +
                              " is out of order or duplicated");
      }
      const std::uint64_t at = offset + i;  // file offset of this entry
      if (at % hash_set_page_size == 0 || at == hash_set_header_size) {
        if (prefix64(buffer.data() + i) != index_.key(at / hash_set_page_size)) {
          return make_error(error_kind::invalid_input,
                            "set file page index does not match its entries (corrupted)");
        }
      }
      std::memcpy(previous.data(), buffer.data() + i, width_);
      have_previous = true;
    }
    digest.update({buffer.data(), want});
    offset += want;
  }
  // The index bytes as stored (the copy in memory was checked against the entries above).
  const std::uint64_t index_end = map_size_ + index_.pages() * hash_set_index_entry_size;
  while (offset < index_end) {
    const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(buffer.size(), index_end - offset));
    if (::pread(fd_, buffer.data(), want, static_cast<off_t>(offset)) != static_cast<ssize_t>(want)) {
      return make_error(error_kind::unavailable, "cannot read the set file's page index");
    }
    digest.update({buffer.data(), want});
    offset += want;
  }
  const auto computed = digest.finish();
  if (!crypto::constant_time_equal(computed, header_.checksum)) {
    return make_error(error_kind::invalid_input, "set file checksum does not match its entries (corrupted)");
  }
  return {};
}

}  // namespace callsign::storage
