// Shared mode (issue 18): a user's audit trail across nodes. Each node copies every entry that
// has a subject, once it is durable in its own journal, to the user's Redis stream
// cs:{u:<id>}:audit (fire-and-forget, capped), so GET /v1/me/audit and GET /v1/audit?user= on
// any node show every node's entries. A best-effort view: the journals keep the full history
// (docs/audit.md, "Several nodes"). With [audit] retention_seconds the copies age out too.
#pragma once

#include <cstddef>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/result.hpp"
#include "redis/reply.hpp"
#include "storage/audit_entry.hpp"
#include "storage/clock.hpp"
#include "storage/completion.hpp"
#include "storage/group_commit_writer.hpp"

namespace callsign::redis {
class client;
}

namespace callsign::server {

// Entries kept per user (approximately: XADD MAXLEN ~).
inline constexpr std::size_t audit_stream_max_entries = 1000;

std::string audit_stream_key(std::string_view user);  // cs:{u:<id>}:audit

// An entry as the API shows it (audit_entry_json): its stored bytes with "hash" appended.
std::string durable_entry_json(const storage::durable_audit_entry& entry);

// The XADD of one durable entry; nullopt when its subject is not a user id (none, or a
// refused email) or `node` is empty.
std::optional<redis::command> audit_stream_append(const storage::durable_audit_entry& entry, std::string_view node);

// [audit] retention_seconds in the view: XTRIM MINID ~ (ids older than now - retention go, as
// the journal's own entries do) and PEXPIRE retention (a user with no newer entry loses the whole
// stream), sent after each append.
std::vector<redis::command> audit_stream_retention(std::string_view user, std::int64_t now_ms,
                                                   std::int64_t retention_seconds);

// A stream id ("<ms>-<n>", both decimal): the only cursor accepted, so no other text reaches
// a range argument.
bool valid_audit_cursor(std::string_view cursor);

enum class audit_order { newest_first, oldest_first };

// XREVRANGE (newest first) or XRANGE, after `cursor` (exclusive) when given, COUNT `count`.
// Nullopt when nothing can lie past the cursor that way (0-0 newest first, the largest id oldest
// first, which Redis refuses as an exclusive bound): the page is empty, with no Redis call.
std::optional<redis::command> audit_stream_read(std::string_view user, audit_order order,
                                                const std::optional<std::string>& cursor, std::size_t count);

struct audit_view_page {
  std::vector<storage::audit_entry> entries;
  std::optional<std::string> next_cursor;  // the last item's id when the page is full
  std::size_t skipped = 0;                 // items that were not a well-formed entry of this user
};

// Reads an XRANGE/XREVRANGE reply. Each item's entry must decode, hash to its "hash", be about
// `user` and name the node its item names; other items are skipped (and counted), never shown.
// internal when the reply is not a range reply at all.
result<audit_view_page> parse_audit_stream(const redis::reply& reply, std::string_view user, std::size_t count);

// {"entries":[...],"next_cursor":"<id>"|null}
std::string audit_view_page_json(const audit_view_page& page);

// Thread-safety: every member may be called from any thread.
class audit_view {
 public:
  // `retention_seconds` > 0: the copies age out with the journal's entries (`clock` dates them).
  explicit audit_view(std::string node_id, const storage::clock* clock = nullptr, std::int64_t retention_seconds = 0)
      : node_(std::move(node_id)), clock_(clock), retention_seconds_(clock != nullptr ? retention_seconds : 0) {}

  // The writer's on_durable: one fire-and-forget XADD (redis::client::send, pipelined) per
  // entry with a user subject (and the retention's trim and expiry), while a client is
  // attached. Never waits for Redis.
  void publish(std::vector<storage::durable_audit_entry> entries);

  // `client` must stay alive until detach().
  void attach(redis::client& client);
  void detach();

  // One XRANGE/XREVRANGE; `unavailable` when no client is attached or Redis does not answer.
  void read(std::string_view user, audit_order order, const std::optional<std::string>& cursor, std::size_t count,
            storage::completion<audit_view_page> done) const;

 private:
  const std::string node_;
  const storage::clock* const clock_;
  const std::int64_t retention_seconds_;
  mutable std::mutex mutex_;
  redis::client* client_ = nullptr;  // guarded by mutex_
};

}  // namespace callsign::server
