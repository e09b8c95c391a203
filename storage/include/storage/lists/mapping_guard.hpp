// A file mapping that survives its file being truncated under it. A set file is mmap'd with
// MAP_SHARED, so `cp new.set serving.set` (which truncates and rewrites the same inode) would
// make the next lookup past the new end of file fault with SIGBUS and end the process. A guarded
// mapping registers its range with a process-wide SIGBUS handler; a fault inside it replaces the
// whole range with zero pages (no entry matches zeros), marks the mapping damaged and lets the
// lookup go on. The list registry sees the mark and reloads the list from its source. A fault
// anywhere else goes to the handler installed before (a sanitizer's), or kills the process as
// it would have.
#pragma once

#include <cstddef>

namespace callsign::storage {

// At most this many guarded mappings at once (two set lists, and the old versions that requests
// in flight still hold). Past it, a mapping works unguarded.
inline constexpr std::size_t max_guarded_mappings = 64;

class mapping_guard {
 public:
  mapping_guard() = default;
  // Guards [start, start + size), a mapping made by mmap. Installs the handler unless it is the
  // one in place (a handler installed since is chained to).
  mapping_guard(const void* start, std::size_t size) noexcept;
  mapping_guard(mapping_guard&& other) noexcept;
  mapping_guard& operator=(mapping_guard&& other) noexcept;
  mapping_guard(const mapping_guard&) = delete;
  mapping_guard& operator=(const mapping_guard&) = delete;
  // Unregisters; call before munmap (the destructor does).
  ~mapping_guard();

  bool guarded() const noexcept { return slot_ >= 0; }
  // True once a fault replaced the mapping's pages with zeros.
  bool damaged() const noexcept;

 private:
  void release() noexcept;
  int slot_ = -1;
};

}  // namespace callsign::storage
