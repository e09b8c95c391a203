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
  const std::uint64_t body = size - hash_set_header_size;
  if (body % file.width_ != 0 || body / file.width_ != header->count) {
    return make_error(error_kind::invalid_input,
                      "set file size does not match its entry count (truncated or padded)");
  }
  file.map_size_ = static_cast<std::size_t>(size);
  void* mapped = ::mmap(nullptr, file.map_size_, PROT_READ, MAP_SHARED, file.fd_, 0);
  if (mapped == MAP_FAILED) return unreadable(path, errno);
  file.map_ = static_cast<const std::uint8_t*>(mapped);
  ::madvise(mapped, file.map_size_, MADV_RANDOM);  // lookups touch one page each; no read-ahead
  return file;
}

hash_set_file::hash_set_file(hash_set_file&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      map_(std::exchange(other.map_, nullptr)),
      map_size_(std::exchange(other.map_size_, 0)),
      width_(other.width_),
      header_(other.header_) {}

hash_set_file& hash_set_file::operator=(hash_set_file&& other) noexcept {
  hash_set_file moved(std::move(other));
  std::swap(fd_, moved.fd_);
  std::swap(map_, moved.map_);
  std::swap(map_size_, moved.map_size_);
  width_ = moved.width_;
  header_ = moved.header_;
  return *this;  // `moved` now owns and releases the old mapping
}

hash_set_file::~hash_set_file() {
  if (map_ != nullptr) ::munmap(const_cast<std::uint8_t*>(map_), map_size_);
  if (fd_ >= 0) ::close(fd_);
}

bool hash_set_file::contains(std::span<const std::uint8_t> entry) const noexcept {
  if (entry.size() != width_ || header_.count == 0) return false;
  const std::uint8_t* base = map_ + hash_set_header_size;
  const std::uint64_t key = prefix64(entry.data());
  // Invariant: every entry in [lo, hi) has prefix in [key_lo, key_hi].
  std::uint64_t lo = 0;
  std::uint64_t hi = header_.count;
  std::uint64_t key_lo = 0;
  std::uint64_t key_hi = ~std::uint64_t{0};
  for (int round = 0; round < 8 && hi - lo > 32; ++round) {
    if (key < key_lo || key > key_hi) return false;
    // Double precision is plenty for a guess and avoids a 128-bit division; clamped into range.
    const double fraction = static_cast<double>(key - key_lo) / (static_cast<double>(key_hi - key_lo) + 1.0);
    auto pos = lo + static_cast<std::uint64_t>(fraction * static_cast<double>(hi - lo));
    pos = std::min(pos, hi - 1);
    const std::uint64_t probe = prefix64(base + pos * width_);
    if (probe < key) {
      lo = pos + 1;
      key_lo = probe;
    } else if (probe > key) {
      hi = pos;
      key_hi = probe;
    } else {
      break;  // same 8-byte prefix: finish with the full comparison below
    }
  }
  while (lo < hi) {  // lower_bound by full entry bytes
    const std::uint64_t mid = lo + (hi - lo) / 2;
    if (std::memcmp(base + mid * width_, entry.data(), width_) < 0) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo < header_.count && std::memcmp(base + lo * width_, entry.data(), width_) == 0;
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
      std::memcpy(previous.data(), buffer.data() + i, width_);
      have_previous = true;
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
