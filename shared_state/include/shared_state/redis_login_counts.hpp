// storage::login_counts on Redis: the counts the login rules read, as ONE client::exec of
// FCALL_RO callsign_login_counts (attempt_functions.hpp), a read-only Function of the library
// that owns the counter keys, so it counts exactly as callsign_login_record counted. A Redis
// error or a lost connection answers `unavailable`, never 0. docs/shared-state-redis.md.
#pragma once

#include "redis/client.hpp"
#include "shared_state/attempt_functions.hpp"
#include "storage/login_counts.hpp"

namespace callsign::shared_state {

// Thread-safety: any thread, concurrently. Completions run on the client's thread. The client
// (and `counts`, when given) must outlive every pending call.
class redis_login_counts final : public storage::login_counts {
 public:
  explicit redis_login_counts(redis::client& client, redis_operation_counts* counts = nullptr);

  // No keys: answers inline without a round trip. Bad arguments: invalid_input, inline.
  void read(std::int64_t now_ms, std::span<const storage::count_read> keys, std::span<double> counts,
            storage::completion<void> done) override;
  // Only a call that needs no round trip (no keys, or bad arguments) answers here.
  std::optional<result<void>> read_inline(std::int64_t now_ms, std::span<const storage::count_read> keys,
                                          std::span<double> counts) override;

 private:
  redis::client& client_;
  redis_operation_counts* counts_;
};

}  // namespace callsign::shared_state
