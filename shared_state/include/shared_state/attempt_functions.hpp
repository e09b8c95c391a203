// The Redis side of the per-attempt operations (issue 18): the callsign_attempts Functions
// library (shared_state/lua/attempts.lua, embedded at build time), the keys it works on, what
// a new primary connection must run first, and the options and counters the Redis backends
// share. Key layout and formats: docs/shared-state-redis.md.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "redis/reply.hpp"

namespace callsign::shared_state {

inline constexpr std::string_view fence_key = "cs:fence";          // time in ms: no claim at or before it
inline constexpr std::string_view primary_key = "cs:primary";      // run_id of the primary that set it
inline constexpr std::string_view blocks_index_key = "cs:blocks";  // zset: block key by until_ms
inline constexpr std::string_view events_channel = "cs:events";    // block / unblock events (JSON)

// The Lua text of the callsign_attempts library ("#!lua name=callsign_attempts").
std::string_view attempts_library();

// FUNCTION LOAD REPLACE <library>, then FCALL callsign_fence_primary <run_id> <now_ms>: to send
// on every new primary connection (redis::client_callbacks::setup_commands). The second reply
// is the fence (an integer, ms).
std::vector<redis::command> attempts_setup_commands(std::string_view run_id, std::int64_t now_ms);

// cs:{u:<user>}:mark:<method>, each part escaped as state_key does (no '{' or '}' inside), so
// the user's hash tag ends at the first '}' and no two (user, method) share a key.
std::string mark_key(std::string_view user, std::string_view method);
std::string counter_redis_key(std::string_view key);  // cs:w:<key>
std::string block_redis_key(std::string_view key);    // cs:b:<key>

// Durability of a mutating call: when wait_replicas > 0 it is answered only after a
// WAIT <wait_replicas> <wait_timeout_ms> sent after it on the same connection, one WAIT shared
// by the calls in flight (redis::client::exec_acknowledged); fewer acknowledgements answer
// `unavailable` (the change is already made on the primary). Timeouts below 1 are taken as 1.
struct redis_write_options {
  std::int64_t wait_replicas = 0;
  std::int64_t wait_timeout_ms = 100;
};

// Round trips (client::exec calls) by operation, for /metrics. Thread-safety: atomics.
struct redis_operation_counts {
  std::atomic<std::uint64_t> settle{0};
  std::atomic<std::uint64_t> login_record{0};
  std::atomic<std::uint64_t> block_admin{0};
  std::atomic<std::uint64_t> login_counts{0};  // rate.login_failures.* reads (FCALL_RO)
};

}  // namespace callsign::shared_state
