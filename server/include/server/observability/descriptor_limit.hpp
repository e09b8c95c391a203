// The process's descriptor budget: every connection holds a descriptor, and RocksDB, the lists
// and the listeners need their own (docs/operations.md, "Descriptors").
#pragma once

#include <cstdint>

namespace callsign::server {

// Descriptors kept for everything that is not a connection.
inline constexpr std::uint64_t descriptor_reserve = 256;

// Raises the soft RLIMIT_NOFILE to the hard one (the soft one is often 1024); returns the limit
// now in force, 0 when it cannot be read.
std::uint64_t raise_descriptor_limit();

// True when `limit` cannot hold `max_connections` plus the reserve: past it, new connections wait
// in the listen backlog and a RocksDB flush can fail to open its file. 0 (unknown) is never short.
bool descriptors_short(std::uint64_t limit, std::uint64_t max_connections) noexcept;

}  // namespace callsign::server
