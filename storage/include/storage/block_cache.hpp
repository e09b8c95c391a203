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
  // A reload of the authority's whole list (after a reconnect, when events may have been
  // missed) comes in two calls, because events keep arriving on another connection while the
  // list is read: begin_reload() before asking for it, then replace_all() with its ticket. A key
  // an event or this node changed after begin_reload() keeps its state in the copy, since the
  // list may have been read before that change; every other key takes the list's state. A
  // reload that failed calls abandon_reload(ticket). At start, with no events yet, replace_all
  // without a ticket replaces everything.
  struct reload_ticket {
    std::uint64_t since = 0;
  };
  reload_ticket begin_reload();
  void replace_all(std::vector<block_entry> entries, std::optional<reload_ticket> ticket = std::nullopt);
  void abandon_reload(reload_ticket ticket);
  std::size_t size() const;

 private:
  // An insertion that finds the copy at sweep_at_ entries drops every expired one first.
  void sweep_if_due_locked(std::int64_t now_ms);
  // Records that `key` changed now, while a reload is pending.
  void touch_locked(std::string_view key);
  void end_reload_locked();

  mutable std::mutex mutex_;
  std::map<std::string, block_entry, std::less<>> entries_;
  std::size_t sweep_at_ = 64;
  // The latest time a caller gave (find() runs on every gate check): apply()'s sweep uses it, or
  // the event's own start if later, so it drops only what has expired.
  std::int64_t latest_now_ms_ = 0;
  // Changes since the pending reloads began: key -> the change's sequence number. Kept only
  // while a reload is pending, so it holds at most the keys changed during one list read.
  std::uint64_t change_seq_ = 0;
  std::size_t pending_reloads_ = 0;
  std::map<std::string, std::uint64_t, std::less<>> touched_;
};

}  // namespace callsign::storage
