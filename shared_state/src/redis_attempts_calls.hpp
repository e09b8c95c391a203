// What the Redis attempt backends share: one FCALL (plus the pipelined WAIT) as one
// client::exec, the error mapping, and reading the replies defensively. Internal to
// callsign_shared_state.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "crypto/result.hpp"
#include "redis/client.hpp"
#include "shared_state/attempt_functions.hpp"
#include "storage/blocks.hpp"

namespace callsign::shared_state::detail {

// Sends `call` (an FCALL), followed by WAIT when options.wait_replicas > 0, as one exec, and
// answers the FCALL's reply: `unavailable` (generic message) when the exec failed, the reply
// is a Redis error or fewer replicas acknowledged; `internal` for a corrupt stored record.
void call_function(redis::client& client, redis::command call, const redis_write_options& options,
                   std::function<void(result<redis::reply>)> done);

// An unexpected reply shape.
error unexpected_reply();

// {key, until_ms, created_ms, rule}.
std::optional<storage::block_entry> read_block_entry(const redis::reply& r);
// An integer reply, or a bulk string holding a decimal integer.
std::optional<std::int64_t> read_integer(const redis::reply& r);
// A non-negative count as our functions write it (a bulk string, "%.17g"); nullopt otherwise.
std::optional<double> read_count(const redis::reply& r);

}  // namespace callsign::shared_state::detail
