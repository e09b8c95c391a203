// A node's in-memory copy of blocks kept elsewhere (Redis, issue 18): the login signals read it
// without a round trip, and it is kept current by the block and unblock events every node
// publishes, plus a full reload after each reconnect (docs/cluster.md, "Blocks"). It persists
// nothing: block() and lift() change memory only and append nothing to `changes`.
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
  mutable std::mutex mutex_;
  std::map<std::string, block_entry, std::less<>> entries_;
};

}  // namespace callsign::storage
