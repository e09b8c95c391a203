// Blocks: a key (an address, a hashed username) refused until a moment, e.g. after too many
// failed logins. An interface so several callsignd nodes can later share blocks through
// Redis/Valkey (docs/shared-state.md); today embedded_blocks keeps them in memory and RocksDB.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/result.hpp"
#include "storage/change_set.hpp"
#include "storage/sliding_window.hpp"

namespace callsign::storage {

// Keys are 1..max_block_key bytes, rule names 1..max_block_rule bytes (invalid_input otherwise).
inline constexpr std::size_t max_block_key = 512;
inline constexpr std::size_t max_block_rule = 64;

// An active block as callers see it.
struct block_entry {
  std::string key;
  std::int64_t until_ms = 0;    // refused while now < until_ms
  std::int64_t created_ms = 0;  // when the block started (kept when it is extended)
  std::string rule;             // the rule that set it (the one with the latest until)

  // Whole seconds until the block ends, at least 1 while it is active.
  std::int64_t retry_after_seconds(std::int64_t now_ms) const noexcept {
    if (until_ms <= now_ms) return 0;
    return (until_ms - now_ms + 999) / 1000;
  }
  // Both times within what a block can hold (0..max_time_ms): an entry decoded from elsewhere
  // (Redis, another node's event) outside it is refused, so Retry-After never overflows.
  bool times_in_range() const noexcept {
    return until_ms >= 0 && until_ms <= max_time_ms && created_ms >= 0 && created_ms <= max_time_ms;
  }
  friend bool operator==(const block_entry&, const block_entry&) = default;
};

struct block_outcome {
  block_entry entry;     // the block in force after the call
  bool started = false;  // true when no block was in force before
};

// Thread-safety: implementations must allow concurrent calls from any threads on any keys.
// Mutating calls change the backend's view at once and append what must be persisted to
// `changes`, which the caller commits (with its audit entry) through the group-commit writer.
class blocks {
 public:
  virtual ~blocks() = default;

  // Blocks `key` until until_ms (> now_ms). An active block with a later until stays as it
  // is; an earlier one is extended, keeping its created_ms. Returns the block now in force,
  // and whether this call started it (no block was in force before): concurrent callers that
  // trip the same key learn which one set the block.
  virtual result<block_outcome> block(std::string_view key, std::int64_t until_ms, std::string_view rule,
                                      std::int64_t now_ms, change_set& changes) = 0;

  // The active block on `key` at now_ms, if any.
  virtual result<std::optional<block_entry>> find(std::string_view key, std::int64_t now_ms) = 0;

  // Every active block at now_ms, ordered by key.
  virtual result<std::vector<block_entry>> list(std::int64_t now_ms) = 0;

  // Ends the active block on `key`; returns it, or nullopt (and appends nothing) when none.
  virtual result<std::optional<block_entry>> lift(std::string_view key, std::int64_t now_ms, change_set& changes) = 0;

  // Readies what block(key) will read, changing nothing, so that block() then answers from
  // memory. Inside a nonblocking_reads scope (storage/read_policy.hpp) it answers would_block
  // when that needs the disk: a caller that has changed nothing yet moves to its blocking pool
  // there, rather than wait for the disk later holding its locks. Memory-only backends: nothing.
  virtual result<void> ready_to_block(std::string_view /*key*/, std::int64_t /*now_ms*/) { return {}; }

 protected:
  blocks() = default;
  blocks(const blocks&) = default;
  blocks& operator=(const blocks&) = default;
};

}  // namespace callsign::storage
