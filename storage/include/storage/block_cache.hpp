// A node's in-memory copy of blocks kept elsewhere (Redis, issue 18): the login signals read it
// without a round trip, and it is kept current by the block and unblock events every node
// publishes, plus a full reload after each reconnect (docs/cluster.md, "Blocks"). It persists
// nothing: block() and lift() change memory only and append nothing to `changes`. Expired
// entries are dropped by a sweep each time the copy has doubled since the last one, so it holds
// at most about twice the blocks in force (and 64), however many blocks come and go.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "storage/blocks.hpp"

namespace callsign::storage {

// Thread-safety: every member may be called from any thread (one internal mutex).
class block_cache final : public blocks {
 public:
  result<block_outcome> block(std::string_view key, std::int64_t until_ms, std::string_view rule,
                              std::int64_t now_ms, change_set& changes) override;
  result<std::optional<block_entry>> find(std::string_view key, std::int64_t now_ms) override;
  result<std::vector<block_entry>> list(std::int64_t now_ms) override;
  result<std::optional<block_entry>> lift(std::string_view key, std::int64_t now_ms, change_set& changes) override;

  // An event from another node: the block as it is in force now (replaces a shorter one), or
  // its end.
  void apply(const block_entry& entry);
  void remove(std::string_view key);
  // The authority's whole list (after a reconnect, when events may have been missed).
  void replace_all(std::vector<block_entry> entries);
  std::size_t size() const;

 private:
  // An insertion that finds the copy at sweep_at_ entries drops every expired one first.
  void sweep_if_due_locked(std::int64_t now_ms);

  mutable std::mutex mutex_;
  std::map<std::string, block_entry, std::less<>> entries_;
  std::size_t sweep_at_ = 64;
  // The latest time a caller gave (find() runs on every gate check): apply()'s sweep uses it, or
  // the event's own start if later, so it drops only what has expired.
  std::int64_t latest_now_ms_ = 0;
};

}  // namespace callsign::storage
