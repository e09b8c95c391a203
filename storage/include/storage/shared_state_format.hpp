// How the embedded backend persists shared state in RocksDB: record keys and small binary
// values (a version byte, then big-endian fields). Decoding checks length, version and ranges
// and returns error_kind::internal for anything else, so a damaged record is reported, never
// read as a wrong number. docs/shared-state.md describes the layout.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "crypto/result.hpp"
#include "storage/rate_window.hpp"
#include "storage/sliding_window.hpp"

namespace callsign::storage {

inline constexpr std::uint8_t replay_mark_format_version = 1;
inline constexpr std::uint8_t sliding_window_format_version = 1;  // two-window estimate only
inline constexpr std::uint8_t rate_window_format_version = 2;      // estimate or exact log

// column_family::counters holds several record kinds, told apart by the key's first byte so
// each kind can be listed with one prefix scan. 'b' is reserved for blocks (issue 5).
inline constexpr char sliding_window_key_prefix = 'w';
inline constexpr char block_key_prefix = 'b';

// column_family::replay_marks key: state_key({user, method}).
std::string replay_mark_record_key(std::string_view user, std::string_view method);
// 9 bytes: version 1, step (u64 big-endian).
std::string encode_replay_mark(std::uint64_t step);
result<std::uint64_t> decode_replay_mark(std::string_view value);

// column_family::counters key: 'w' followed by the caller's key.
std::string sliding_window_record_key(std::string_view key);
// Format 1 (written before issue 16, still read): 33 bytes: version 1, window_ms,
// window_start_ms, previous, current (each i64 big-endian).
std::string encode_sliding_window(const sliding_window_counter& counter);
// Also refuses out-of-range windows and times, a start not aligned to the window, and
// negative counts.
result<sliding_window_counter> decode_sliding_window(std::string_view value);

// What the counters write now. A legacy state is written as format 1; otherwise format 2:
// version 2, kind ('e' estimate, 'l' log), as_of_ms (i64), window_ms (i64), then
//   'e': window_start_ms, previous, current (i64 each): 42 bytes;
//   'l': capacity (u32), n (u32), then n ascending times: the first as i64, each later one as
//        its distance from the one before (unsigned LEB128): 26 + about 2 bytes per event.
// All integers big-endian.
std::string encode_rate_window(const rate_window& window);
// Reads format 1 (as a legacy estimate) and format 2. Refuses, besides the format-1 defects,
// an unknown kind, a capacity outside [1, max_exact_limit], more times than the capacity,
// times out of range or out of order, an overlong or truncated distance, and trailing bytes.
result<rate_window> decode_rate_window(std::string_view value);

}  // namespace callsign::storage
