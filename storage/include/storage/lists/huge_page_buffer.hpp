// Anonymous memory for the lists' lookup tables (the IP set's intervals and bucket index, a set
// file's page index). From 2 MiB on it is 2 MiB-aligned and advised for transparent huge pages,
// so a random lookup over a few megabytes costs no TLB miss: on a VM each miss is a nested page
// walk, as slow as the cache miss itself. Without THP it is ordinary 4 KiB pages.
#pragma once

#include <cstddef>
#include <cstdint>

namespace callsign::storage {

// Thread safety: none of its own; the owner fills it once, then concurrent reads are fine.
class huge_page_buffer {
 public:
  huge_page_buffer() = default;
  // Zero-filled; empty (data() == nullptr) if the memory cannot be mapped or bytes is 0.
  static huge_page_buffer allocate(std::size_t bytes) noexcept;

  huge_page_buffer(huge_page_buffer&& other) noexcept;
  huge_page_buffer& operator=(huge_page_buffer&& other) noexcept;
  huge_page_buffer(const huge_page_buffer&) = delete;
  huge_page_buffer& operator=(const huge_page_buffer&) = delete;
  ~huge_page_buffer();

  std::uint8_t* data() noexcept { return data_; }
  const std::uint8_t* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return size_; }  // as asked; the mapping may be larger

 private:
  std::uint8_t* data_ = nullptr;
  std::size_t size_ = 0;
  std::size_t mapped_ = 0;
};

}  // namespace callsign::storage
