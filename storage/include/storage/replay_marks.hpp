// Single use of one-time codes: the last accepted time step per (user, method). An interface so
// that several callsignd nodes can later share marks through Redis/Valkey; today the embedded
// backend (embedded_replay_marks.hpp) keeps them in memory and RocksDB. docs/shared-state.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "crypto/result.hpp"
#include "storage/change_set.hpp"

namespace callsign::storage {

// Thread-safety: implementations must allow concurrent calls from any threads, on the same
// or different (user, method).
class replay_marks {
 public:
  virtual ~replay_marks() = default;

  // Atomically accepts `step` when it is later than the last step accepted for (user, method)
  // (none accepted yet counts as earlier than every step): records it, appends whatever must
  // be persisted to `changes` (the caller commits it with the audit entry) and returns true.
  // Otherwise returns false and leaves `changes` alone. Of any number of concurrent claims of
  // one step exactly one returns true. A claim counts from the moment it returns, even if the
  // caller then fails to commit `changes`: a burnt code is refused, never replayed.
  // user and method must be non-empty and at most max_replay_mark_part bytes (invalid_input).
  virtual result<bool> claim(std::string_view user, std::string_view method, std::uint64_t step,
                             change_set& changes) = 0;

  // The last accepted step, or nullopt when none is recorded.
  virtual result<std::optional<std::uint64_t>> last_step(std::string_view user, std::string_view method) = 0;

  // There is deliberately no way to lower or drop a mark: a step once used stays used for its
  // (user, method) even when the secret behind the method is replaced, and every persisted op is
  // a merge that keeps the highest step, so the order in which commits reach the disk never
  // matters (docs/shared-state.md#commit-order).

 protected:
  replay_marks() = default;
  replay_marks(const replay_marks&) = default;
  replay_marks& operator=(const replay_marks&) = default;
};

// Ids and method names longer than this are refused rather than stored.
inline constexpr std::size_t max_replay_mark_part = 256;

}  // namespace callsign::storage
