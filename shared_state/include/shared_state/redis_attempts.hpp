// storage::code_attempts and storage::login_attempts on Redis (issue 18): each attempt is ONE
// client::exec of one Function of the callsign_attempts library (attempt_functions.hpp), plus
// the pipelined WAIT when replicas are configured. Redis is the authority: nothing is appended
// to `changes` (the caller still commits its audit entry locally). A Redis error or a lost
// connection answers `unavailable`, never a local fallback. docs/shared-state-redis.md.
#pragma once

#include "redis/client.hpp"
#include "shared_state/attempt_functions.hpp"
#include "storage/code_attempts.hpp"
#include "storage/login_attempts.hpp"

namespace callsign::shared_state {

// Thread-safety: any thread, concurrently (the client pipelines). Completions run on the
// client's thread. The client (and `counts`, when given) must outlive every pending call.
class redis_code_attempts final : public storage::code_attempts {
 public:
  explicit redis_code_attempts(redis::client& client, redis_write_options options = {},
                               redis_operation_counts* counts = nullptr);

  // As storage::code_attempts::settle, by callsign_settle. A claim must carry step_start_ms
  // (invalid_input otherwise): a step that began at or before the fence is refused as replayed.
  void settle(const storage::code_attempt& attempt, storage::change_set& changes,
              storage::completion<storage::code_attempt_result> done) override;

 private:
  redis::client& client_;
  redis_write_options options_;
  redis_operation_counts* counts_;
};

// As above, for login outcomes (callsign_login_record). A started block is published on
// cs:events by the function itself.
class redis_login_attempts final : public storage::login_attempts {
 public:
  explicit redis_login_attempts(redis::client& client, redis_write_options options = {},
                                redis_operation_counts* counts = nullptr);

  void record(const storage::login_attempt& attempt, storage::change_set& changes,
              storage::completion<storage::login_attempt_result> done) override;

 private:
  redis::client& client_;
  redis_write_options options_;
  redis_operation_counts* counts_;
};

}  // namespace callsign::shared_state
