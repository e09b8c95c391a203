// Round trips to a shared-state backend, counted for the request that caused them (issue 18:
// "count round trips per route"). A request's handler runs inside a round_trip_scope; a backend
// that talks to a server (redis::client) adds one to the current tally for each exchange, and
// runs the exchange's completion inside the caller's scope again, on whatever thread answers,
// so what a continuation asks next counts for the same request. Outside any scope nothing is
// counted (background work: checkpoints, list reloads, block reloads).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

namespace callsign::storage {

using round_trip_tally = std::shared_ptr<std::atomic<std::uint64_t>>;

// The calling thread's current tally (null outside any scope).
const round_trip_tally& current_round_trip_tally() noexcept;

// Makes `tally` the calling thread's current one until destroyed, then restores the one before.
// Never hold one across a suspension point: it belongs to the thread, not to a coroutine.
class round_trip_scope {
 public:
  explicit round_trip_scope(round_trip_tally tally) noexcept;
  ~round_trip_scope();
  round_trip_scope(const round_trip_scope&) = delete;
  round_trip_scope& operator=(const round_trip_scope&) = delete;

 private:
  round_trip_tally previous_;
};

}  // namespace callsign::storage
