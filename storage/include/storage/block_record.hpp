// How the embedded backend stores a block in column_family::counters: key 'b' + block key,
// value: version 1 | revision | until_ms | created_ms | lifted_ms (i64 big-endian each) |
// rule length (u8) | rule. Every change writes the key's whole new state with a higher
// revision, and the merge operator keeps the highest revision, so changes that reach disk
// out of order never move a block backwards (a lift stays lifted). docs/login-limits.md.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "crypto/result.hpp"

namespace callsign::storage {

inline constexpr std::uint8_t block_format_version = 1;

// One key's block state. A lift keeps until_ms, so the record stays (as a tombstone that
// outranks older commits) exactly as long as the block it ended could have mattered.
struct block_record {
  std::int64_t revision = 0;  // strictly increasing per key: max(now_ms, previous + 1)
  std::int64_t until_ms = 0;  // in force while now < until_ms
  std::int64_t created_ms = 0;
  std::int64_t lifted_ms = -1;  // -1 while not lifted
  std::string rule;

  bool active(std::int64_t now_ms) const noexcept { return lifted_ms < 0 && now_ms < until_ms; }
  // Nothing left to remember: the compaction filter drops it and memory forgets it.
  bool expired(std::int64_t now_ms) const noexcept { return until_ms <= now_ms; }

  friend bool operator==(const block_record&, const block_record&) = default;
};

std::string block_record_key(std::string_view key);
std::string encode_block_record(const block_record& record);
// internal error for a wrong length, unknown version, or times out of range.
result<block_record> decode_block_record(std::string_view value);

// The newer of two encoded states of one key: the higher revision; for equal revisions the
// larger encoding, so the choice never depends on arrival order. An undecodable side loses.
std::string newer_block_record(std::string_view a, std::string_view b);

}  // namespace callsign::storage
