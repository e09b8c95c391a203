// A read-only, mmap'd hash set file (format in hash_set_format.hpp). open() checks the header
// and the file size and reads the page index (8 bytes per 4 KiB page: 3.2 MB at 100M
// credential entries), not the entries, so the process's RSS does not grow by the file size:
// data pages come in as lookups touch them, one page per lookup.
// verify_checksum() is the separate full pass, run when a file is installed or reloaded.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>

#include "crypto/result.hpp"
#include "storage/lists/hash_set_format.hpp"
#include "storage/lists/hash_set_page_index.hpp"
#include "storage/lists/mapping_guard.hpp"

namespace callsign::storage {

// Thread safety: immutable after open(); contains() may be called concurrently.
class hash_set_file {
 public:
  // Fails (invalid_input) on a bad header, a kind other than `expected`, a size that does not
  // equal header + entries + page index (truncated or padded) or a page index out of order;
  // unavailable when unreadable.
  static result<hash_set_file> open(const std::filesystem::path& path, hash_set_kind expected);

  hash_set_file(hash_set_file&& other) noexcept;
  hash_set_file& operator=(hash_set_file&& other) noexcept;
  hash_set_file(const hash_set_file&) = delete;
  hash_set_file& operator=(const hash_set_file&) = delete;
  ~hash_set_file();

  // `entry` must be entry-width bytes; otherwise false. The page index gives the one data page
  // (two when a page starts with the entry's 8-byte prefix) the entry can be in; inside it, an
  // interpolation guess (the entries are uniformly distributed hashes), then a branch-free
  // search of the entries around the guess.
  bool contains(std::span<const std::uint8_t> entry) const noexcept;

  // Streams the entries and the page index through SHA-256 with pread (not through the
  // mapping, so RSS stays flat) and compares with the header; also checks the entries are
  // strictly ascending and that the index in memory names every page's first entry.
  result<void> verify_checksum() const;

  // True once the file was truncated under the mapping (mapping_guard.hpp): every lookup then
  // answers false, and the list registry reloads the list from its source.
  bool damaged() const noexcept { return guard_.damaged(); }

  const hash_set_header& header() const noexcept { return header_; }
  std::uint64_t entries() const noexcept { return header_.count; }
  std::size_t entry_width() const noexcept { return width_; }

 private:
  hash_set_file() = default;
  static constexpr std::uint64_t search_window = 24;  // entries each side of the guess

  int fd_ = -1;
  const std::uint8_t* map_ = nullptr;
  std::size_t map_size_ = 0;
  std::size_t width_ = 0;
  hash_set_header header_{};
  hash_set_page_index index_;
  mapping_guard guard_;  // declared last: released before the destructor's munmap
};

}  // namespace callsign::storage
