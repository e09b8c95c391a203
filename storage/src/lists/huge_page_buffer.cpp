#include "storage/lists/huge_page_buffer.hpp"

#include <sys/mman.h>

#include <utility>

namespace callsign::storage {
namespace {

constexpr std::size_t huge_page = std::size_t{2} << 20;

std::size_t round_up(std::size_t value, std::size_t to) noexcept { return (value + to - 1) / to * to; }

}  // namespace

huge_page_buffer huge_page_buffer::allocate(std::size_t bytes) noexcept {
  huge_page_buffer buffer;
  if (bytes == 0) return buffer;
  if (bytes < huge_page) {
    const std::size_t mapped = round_up(bytes, 4096);
    void* p = ::mmap(nullptr, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return buffer;
    buffer.data_ = static_cast<std::uint8_t*>(p);
    buffer.mapped_ = mapped;
    buffer.size_ = bytes;
    return buffer;
  }
  // Map one huge page more than needed, then trim both ends to a 2 MiB-aligned range.
  const std::size_t want = round_up(bytes, huge_page);
  void* p = ::mmap(nullptr, want + huge_page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return buffer;
  auto* raw = static_cast<std::uint8_t*>(p);
  const std::size_t skip = round_up(reinterpret_cast<std::uintptr_t>(raw), huge_page) - reinterpret_cast<std::uintptr_t>(raw);
  if (skip > 0) ::munmap(raw, skip);
  if (huge_page - skip > 0) ::munmap(raw + skip + want, huge_page - skip);
  buffer.data_ = raw + skip;
  buffer.mapped_ = want;
  buffer.size_ = bytes;
  ::madvise(buffer.data_, want, MADV_HUGEPAGE);  // advice: ignored where THP is off
  return buffer;
}

huge_page_buffer::huge_page_buffer(huge_page_buffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      mapped_(std::exchange(other.mapped_, 0)) {}

huge_page_buffer& huge_page_buffer::operator=(huge_page_buffer&& other) noexcept {
  huge_page_buffer moved(std::move(other));
  std::swap(data_, moved.data_);
  std::swap(size_, moved.size_);
  std::swap(mapped_, moved.mapped_);
  return *this;  // `moved` releases the old mapping
}

huge_page_buffer::~huge_page_buffer() {
  if (data_ != nullptr) ::munmap(data_, mapped_);
}

}  // namespace callsign::storage
