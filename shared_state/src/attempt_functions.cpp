#include "shared_state/attempt_functions.hpp"

#include "storage/state_key.hpp"

namespace callsign::shared_state {

namespace detail {
extern const std::string_view attempts_lua;  // generated from lua/attempts.lua
}

std::string_view attempts_library() { return detail::attempts_lua; }

std::vector<redis::command> attempts_setup_commands(std::string_view run_id, std::int64_t now_ms) {
  return {
      {"FUNCTION", "LOAD", "REPLACE", std::string(detail::attempts_lua)},
      {"FCALL", "callsign_fence_primary", "2", std::string(fence_key), std::string(primary_key), std::string(run_id),
       std::to_string(now_ms)},
  };
}

std::string mark_key(std::string_view user, std::string_view method) {
  // state_key escapes '{' and '}', so the hash tag is exactly the user.
  return "cs:{u:" + storage::state_key({user}) + "}:mark:" + storage::state_key({method});
}

std::string counter_redis_key(std::string_view key) { return "cs:w:" + std::string(key); }

std::string block_redis_key(std::string_view key) { return "cs:b:" + std::string(key); }

}  // namespace callsign::shared_state
