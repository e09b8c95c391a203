// storage::user_directory on Redis/Valkey: every call is ONE client::exec of a function of the
// callsign_directory library (directory_functions.hpp), plus a pipelined WAIT when replicas are
// asked for. Records are stored in storage's encoding (encode_user), compared and swapped on
// their version inside the function, with the email index and the id list in the same atomic
// call. No Asio: it talks only through redis::client.
//
// Durability: a write is made on the Redis primary first (and acknowledged by the replicas when
// asked for), then its `extra` (the audit entries) is committed to this node's local journal
// through the commit sink, and `done` runs once that is durable. If the local commit fails, the
// call answers that error, but the Redis write stands: the change is made and published, only
// its audit entry is missing. The same holds for an unavailable answer from a missed WAIT.
//
// Optional cache of records by id (cache_entries > 0): a find answers from it with no round
// trip. It holds records only while the owner reports the client's subscriber up
// (events_connected), and drops an id on each user event (user_changed) and on each own write.
// A record can therefore be stale for as long as an event takes to arrive; every write still
// compares versions in Redis, so a stale read can cause a conflict, never a lost update.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>

#include "redis/client.hpp"
#include "shared_state/directory_functions.hpp"
#include "storage/change_set.hpp"
#include "storage/user_directory.hpp"

namespace callsign::shared_state {

class user_record_cache;
class redis_authenticator_directory;

// Thread-safety: every call from any thread, concurrently (the client and the sink are
// thread-safe; the directory keeps only atomics). Completions run on the client's thread, or
// on the sink's thread after a commit. The client and the sink must outlive the directory, and
// the client must be stopped (its pending calls answered) before the sink and the directory go.
// `round_trips` (shared with the authenticator directory, exported once) must outlive it too.
class redis_user_directory final : public storage::user_directory {
 public:
  redis_user_directory(redis::client& client, storage::commit_sink& sink, directory_round_trips& round_trips,
                       directory_options options = {}, std::size_t cache_entries = 0);
  ~redis_user_directory() override;
  redis_user_directory(const redis_user_directory&) = delete;
  redis_user_directory& operator=(const redis_user_directory&) = delete;

  // Call for every {"type":"user","id":...} event on directory_events_channel, whatever its
  // version (e.g. from the client's message callback).
  void user_changed(std::string_view id);
  // Call when the client's subscriber comes up (true) or goes down (false), e.g. from
  // status_changed with client_status::subscribed. The cache is empty and unused until true.
  void events_connected(bool connected);
  // Lookups (find, find_by_email) that miss the cache then read the user's enrollment in the
  // same exec and hand it to `enrollments`' cache, so a verify with a wrong code needs no round
  // trip of its own for it. Call once, before any find; `enrollments` must outlive this.
  void pair_enrollments(redis_authenticator_directory& enrollments) { enrollments_ = &enrollments; }

  void find(std::string_view id, storage::completion<std::optional<storage::stored_user>> done) override;
  void find_by_email(std::string_view normalized_email,
                     storage::completion<std::optional<storage::stored_user>> done) override;
  // At most 10000 users per page whatever `limit` says (next_after then tells the rest).
  void list(std::string_view after, std::size_t limit, storage::completion<storage::user_page> done) override;
  void put(storage::user_record user, std::uint64_t expected_version, storage::change_set extra,
           storage::completion<std::uint64_t> done) override;
  void remove(std::string_view id, std::uint64_t expected_version, storage::change_set extra,
              storage::completion<void> done) override;

 private:
  redis::client& client_;
  storage::commit_sink& sink_;
  const directory_options options_;
  directory_round_trips& round_trips_;
  std::unique_ptr<user_record_cache> cache_;
  redis_authenticator_directory* enrollments_ = nullptr;  // set before use, then only read
};

}  // namespace callsign::shared_state
