// The login signals' view of blocks in shared mode (docs/cluster.md, "Failures"): this node's
// block copy, or `unavailable` while Redis is away when [shared_state]
// login_signals_when_unavailable = "closed". Private to server/src/cluster/.
#pragma once

#include "redis/client.hpp"
#include "storage/block_cache.hpp"

namespace callsign::server {

// Thread-safety: as block_cache (any thread); reads the client's status, which is thread-safe.
class guarded_blocks final : public storage::blocks {
 public:
  guarded_blocks(storage::block_cache& cache, const redis::client& client, bool fail_closed)
      : cache_(cache), client_(client), fail_closed_(fail_closed) {}

  result<storage::block_outcome> block(std::string_view key, std::int64_t until_ms, std::string_view rule,
                                       std::int64_t now_ms, storage::change_set& changes) override {
    return cache_.block(key, until_ms, rule, now_ms, changes);
  }
  result<std::optional<storage::block_entry>> find(std::string_view key, std::int64_t now_ms) override {
    if (auto closed = refuse(); !closed) return closed.error();
    return cache_.find(key, now_ms);
  }
  result<std::vector<storage::block_entry>> list(std::int64_t now_ms) override {
    if (auto closed = refuse(); !closed) return closed.error();
    return cache_.list(now_ms);
  }
  result<std::optional<storage::block_entry>> lift(std::string_view key, std::int64_t now_ms,
                                                   storage::change_set& changes) override {
    return cache_.lift(key, now_ms, changes);
  }

 private:
  result<void> refuse() const {
    if (fail_closed_ && !client_.status().connected) {
      return make_error(error_kind::unavailable, "shared state (Redis) is unreachable; login signals fail closed");
    }
    return {};
  }
  storage::block_cache& cache_;
  const redis::client& client_;
  bool fail_closed_;
};

}  // namespace callsign::server
