// rate_counters for a single node: an in-memory map is the authority, filled from
// column_family::counters at start (load_live) and lazily until then; adds append their RocksDB
// merge to the caller's change_set.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "storage/database.hpp"
#include "storage/rate_counters.hpp"

namespace callsign::storage {

// Thread-safety: all member functions may be called concurrently (lock stripes by key).
// Must be the only writer of sliding-window records in column_family::counters on its
// database, and the database must outlive it.
//
// Memory stays bounded by the keys active in the last window (exact logs, at most `limit` times
// each) or two windows (estimates): an expired counter is dropped from memory (its record on
// disk is then expired too). Each
// stripe sweeps itself after as many operations as it kept entries at its last sweep (at
// least 64), so the cost per operation stays constant and dead entries stay at most as many
// as live ones (or 64); sweep() does all stripes at once, e.g. from a timer.
class embedded_rate_counters final : public rate_counters {
 public:
  explicit embedded_rate_counters(database& db);
  ~embedded_rate_counters() override;
  embedded_rate_counters(const embedded_rate_counters&) = delete;
  embedded_rate_counters& operator=(const embedded_rate_counters&) = delete;

  result<rate_estimate> estimate(std::string_view key, std::int64_t now_ms, const rate_limit& limit) override;
  result<rate_estimate> add(std::string_view key, std::int64_t amount, std::int64_t now_ms, const rate_limit& limit,
                            change_set& changes) override;

  // When this process started (ms): misses read no disk once two windows have passed since then
  // (or since the first call, without it). Call once, before serving.
  void started_at(std::int64_t now_ms) noexcept;

  // Reads every counter still live at now_ms from disk into memory, in the background before the
  // first requests (it may run while they are served: a counter already in memory is newer and
  // is kept). Once it has succeeded a miss is an empty count at once, with no disk read, as
  // after the horizon above. Returns how many were loaded; on an error (a corrupt record) misses
  // keep reading the disk, each failing or counting on its own.
  result<std::size_t> load_live(std::int64_t now_ms);

  // Drops every counter expired at now_ms from memory; returns how many were dropped.
  std::size_t sweep(std::int64_t now_ms);

  // Counters held in memory: for metrics and tests.
  std::size_t cached_counters();

  struct state;

 private:
  database& db_;
  std::unique_ptr<state> state_;
};

}  // namespace callsign::storage
