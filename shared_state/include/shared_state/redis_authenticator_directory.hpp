// storage::authenticator_directory on Redis/Valkey: one client::exec per call (plus the
// pipelined WAIT), the sealed record stored in storage's encoding (encode_authenticator), so
// Redis never sees a plaintext secret. Durability and the order "Redis, then the local
// journal" as in redis_user_directory.hpp: a failed local commit answers its error, and the
// Redis write stands.
#pragma once

#include "redis/client.hpp"
#include "shared_state/directory_functions.hpp"
#include "storage/authenticator_directory.hpp"
#include "storage/change_set.hpp"

namespace callsign::shared_state {

// Thread-safety: as redis_user_directory.
class redis_authenticator_directory final : public storage::authenticator_directory {
 public:
  redis_authenticator_directory(redis::client& client, storage::commit_sink& sink, directory_round_trips& round_trips,
                                directory_options options = {});

  void find(std::string_view user_id, storage::completion<storage::stored_authenticator> done) override;
  // An id that breaks the id rules is invalid_input (no such user can exist).
  void put(std::string user_id, storage::authenticator_record record, std::uint64_t expected_version,
           storage::change_set extra, storage::completion<std::uint64_t> done) override;

 private:
  redis::client& client_;
  storage::commit_sink& sink_;
  const directory_options options_;
  directory_round_trips& round_trips_;
};

}  // namespace callsign::shared_state
