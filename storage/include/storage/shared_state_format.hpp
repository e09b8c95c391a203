// How the embedded backend persists shared state in RocksDB: record keys and small binary
// values (a version byte, then big-endian fields). Decoding checks length, version and ranges
// and returns error_kind::internal for anything else, so a damaged record is reported, never
// read as a wrong number. docs/shared-state.md describes the layout.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "crypto/result.hpp"
#include "storage/sliding_window.hpp"

namespace callsign::storage {

inline constexpr std::uint8_t replay_mark_format_version = 1;
inline constexpr std::uint8_t sliding_window_format_version = 1;

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
// 33 bytes: version 1, window_ms, window_start_ms, previous, current (each i64 big-endian).
std::string encode_sliding_window(const sliding_window_counter& counter);
// Also refuses out-of-range windows and times, a start not aligned to the window, and
// negative counts.
result<sliding_window_counter> decode_sliding_window(std::string_view value);

}  // namespace callsign::storage
