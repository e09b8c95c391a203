// storage::authenticator_directory on Redis/Valkey: one client::exec per call (plus the
// pipelined WAIT), the sealed record stored in storage's encoding (encode_authenticator), so
// Redis never sees a plaintext secret. Durability and the order "Redis, then the local
// journal" as in redis_user_directory.hpp: a failed local commit answers its error, and the
// Redis write stands.
//
// Optional cache by user id (cache_entries > 0), enrollments and their absence alike: a find
// that hits costs no round trip. Same rules as redis_user_directory's: only while the owner
// reports the subscriber up (events_connected), an id dropped on each authenticator event
// (authenticator_changed) and on each own write. An enrollment made or removed on another node
// can therefore be missed here for as long as its event takes to arrive; writes still compare
// versions in Redis.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>

#include "redis/client.hpp"
#include "shared_state/directory_functions.hpp"
#include "storage/authenticator_directory.hpp"
#include "storage/change_set.hpp"

namespace callsign::shared_state {

class authenticator_record_cache;

// Thread-safety: as redis_user_directory. prime() and the enrollment reads may run on any
// thread, concurrently with everything else (the cache has its own mutex).
class redis_authenticator_directory final : public storage::authenticator_directory {
 public:
  redis_authenticator_directory(redis::client& client, storage::commit_sink& sink, directory_round_trips& round_trips,
                                directory_options options = {}, std::size_t cache_entries = 0);
  ~redis_authenticator_directory() override;
  redis_authenticator_directory(const redis_authenticator_directory&) = delete;
  redis_authenticator_directory& operator=(const redis_authenticator_directory&) = delete;

  // Call for every {"type":"authenticator","user":...} event on directory_events_channel,
  // whatever its version (a removal of the user publishes one too when it took an enrollment).
  void authenticator_changed(std::string_view user_id);
  // As redis_user_directory::events_connected: nothing is cached until true.
  void events_connected(bool connected);

  // For redis_user_directory, whose lookups carry the enrollment read in the same round trip
  // (a verify with a wrong code asks for it next): the command reading `user_id`'s enrollment,
  // or by the user's normalized email, for the same exec; nullopt when the cache holds it
  // already or keeps nothing now. `generation` goes to prime() with that command's reply.
  std::optional<redis::command> enrollment_read(std::string_view user_id, std::uint64_t& generation);
  std::optional<redis::command> enrollment_read_by_email(std::string_view normalized_email, std::uint64_t& generation);
  // Keeps that reply as a find's would be, for `user_id`, the user the lookup found (a reply by
  // email that names another id is ignored). Counts no round trip.
  void prime(std::string_view user_id, const redis::reply& reply, bool by_email, std::uint64_t generation);

  void find(std::string_view user_id, storage::completion<storage::stored_authenticator> done) override;
  // An id that breaks the id rules is invalid_input (no such user can exist).
  void put(std::string user_id, storage::authenticator_record record, std::uint64_t expected_version,
           storage::change_set extra, storage::completion<std::uint64_t> done) override;

 private:
  redis::client& client_;
  storage::commit_sink& sink_;
  const directory_options options_;
  directory_round_trips& round_trips_;
  std::unique_ptr<authenticator_record_cache> cache_;
};

}  // namespace callsign::shared_state
