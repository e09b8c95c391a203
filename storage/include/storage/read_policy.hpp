// Whether this thread's storage reads may wait for the disk. The HTTP I/O threads serve many
// connections each, so a route they run (POST /v1/verify) reads inside a nonblocking_reads scope:
// database::get then answers from memory only (memtables, the block cache, Bloom filters) and
// returns error_kind::would_block when the value would have to be read from a file, and the server
// runs the request again on its worker pool. A remote backend (Redis/Valkey, docs/shared-state.md)
// would answer would_block inside such a scope for every call that needs the network.
#pragma once

namespace callsign::storage {

// True inside a nonblocking_reads scope on this thread (and not in a blocking_reads_allowed one).
bool reads_must_not_block() noexcept;

// RAII: reads on this thread must not wait for the disk until the scope ends. Nests.
class nonblocking_reads {
 public:
  nonblocking_reads() noexcept;
  ~nonblocking_reads();
  nonblocking_reads(const nonblocking_reads&) = delete;
  nonblocking_reads& operator=(const nonblocking_reads&) = delete;

 private:
  bool previous_;
};

// RAII: lifts nonblocking_reads until the scope ends, for work that must not be repeated once it
// has changed state (a change set half built cannot simply be run again).
class blocking_reads_allowed {
 public:
  blocking_reads_allowed() noexcept;
  ~blocking_reads_allowed();
  blocking_reads_allowed(const blocking_reads_allowed&) = delete;
  blocking_reads_allowed& operator=(const blocking_reads_allowed&) = delete;

 private:
  bool previous_;
};

}  // namespace callsign::storage
