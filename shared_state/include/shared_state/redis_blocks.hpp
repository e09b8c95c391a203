// storage::block_directory on Redis (issue 18): the admin's list, lift and find as one
// client::exec each, through the callsign_attempts library (attempt_functions.hpp). A lift
// publishes {"type":"unblock","key":...} on cs:events so every node's local cache drops it.
#pragma once

#include "redis/client.hpp"
#include "shared_state/attempt_functions.hpp"
#include "storage/block_directory.hpp"

namespace callsign::shared_state {

// Thread-safety: any thread, concurrently. Completions run on the client's thread. The client
// (and `counts`, when given) must outlive every pending call.
class redis_block_directory final : public storage::block_directory {
 public:
  explicit redis_block_directory(redis::client& client, redis_write_options options = {},
                                 redis_operation_counts* counts = nullptr);

  void list(std::int64_t now_ms, storage::completion<std::vector<storage::block_entry>> done) override;
  // Nothing is appended to `changes`; WAIT follows the lift when replicas are configured.
  void lift(std::string_view key, std::int64_t now_ms, storage::change_set& changes,
            storage::completion<std::optional<storage::block_entry>> done) override;
  void find(std::string_view key, std::int64_t now_ms,
            storage::completion<std::optional<storage::block_entry>> done) override;

 private:
  redis::client& client_;
  redis_write_options options_;
  redis_operation_counts* counts_;
};

}  // namespace callsign::shared_state
