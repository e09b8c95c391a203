// The Redis Functions library of the user and authenticator directory (shared_state/lua/
// directory.lua, embedded at build time), the options both Redis directories share, and their
// round-trip counters. Key layout and replies: docs/shared-state-redis.md, "Users and
// authenticators".
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "redis/reply.hpp"

namespace callsign::shared_state {

// The library's Lua source, `#!lua name=callsign_directory`.
std::string_view directory_library() noexcept;

// FUNCTION LOAD REPLACE of the library: one of the client's setup_commands on every new primary
// connection (loading again is cheap, and a fresh or restored server gets the functions).
redis::command load_directory_library();

// The channel every directory change is published on, as a small JSON event:
// {"type":"user","id":...,"version":N} and {"type":"authenticator","user":...,"version":N};
// version 0 means removed. Other nodes drop a cached record on it.
inline constexpr std::string_view directory_events_channel = "cs:events";

struct directory_options {
  // > 0: every write is answered after a WAIT <wait_replicas> <wait_timeout_ms> sent after it
  // (one WAIT shared by the writes in flight: redis::client::exec_acknowledged), and answers
  // unavailable when fewer replicas acknowledged (the change is made on the primary then).
  std::int64_t wait_replicas = 0;
  // Must stay below the client's command_timeout; values below 1 are taken as 1 (WAIT 0 would
  // block forever).
  std::int64_t wait_timeout_ms = 100;
};

// Round trips (client::exec calls) per operation since start, for /metrics: one struct, owned by
// the caller and shared by both directories. Every operation is one round trip, WAIT included;
// a call refused before Redis (an invalid id) and a cache hit are not counted.
// Thread-safety: atomics, relaxed; read and written from any thread.
struct directory_round_trips {
  std::atomic<std::uint64_t> user_find{0};
  std::atomic<std::uint64_t> user_find_by_email{0};
  std::atomic<std::uint64_t> user_list{0};
  std::atomic<std::uint64_t> user_put{0};
  std::atomic<std::uint64_t> user_remove{0};
  std::atomic<std::uint64_t> authenticator_find{0};
  std::atomic<std::uint64_t> authenticator_put{0};
  // Not round trips: finds answered from redis_user_directory's and
  // redis_authenticator_directory's caches.
  std::atomic<std::uint64_t> user_find_cache_hits{0};
  std::atomic<std::uint64_t> authenticator_find_cache_hits{0};

  // (operation, round trips) pairs, e.g. ("user_put", 12): the metric label and its value
  // (the cache hits are not among them).
  std::vector<std::pair<std::string_view, std::uint64_t>> snapshot() const;
};

}  // namespace callsign::shared_state
