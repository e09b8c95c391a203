// What the primary link checks about the server behind it, beyond "it answers": that it never
// evicts keys (an evicted replay mark would let a code be accepted twice, an evicted block or
// user would silently vanish), and whether it takes writes right now (a full `maxmemory` under
// `noeviction`, too few replicas for `min-replicas-to-write`). Plain functions over replies, so
// they are tested without a server (tests/redis/primary_health_test.cpp).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "redis/reply.hpp"

namespace callsign::redis {

// The value of `field` in an INFO reply ("field:value" lines), or nullopt when absent.
std::optional<std::string> info_field(std::string_view info, std::string_view field);

// Why the server that sent this `INFO memory` reply cannot hold callsign's state; empty when it
// can. Anything but `maxmemory_policy:noeviction` is refused, and so is a reply without it.
std::string eviction_problem(const reply& info_memory);

// Why the server refused a write, from the write's reply; empty when the write passed. Only the
// error code is kept, with what it means: never the arguments.
std::string write_refusal(const reply& answer);

}  // namespace callsign::redis
