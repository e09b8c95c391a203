// The embedded (RocksDB) authenticator directory: versioned records, writes serialized per user
// with the user directory's reservations (so deleting a user and enrolling an authenticator for
// it cannot interleave), durable through the commit sink before they answer.
#pragma once

#include "storage/authenticator_directory.hpp"
#include "storage/embedded_user_directory.hpp"

#include <string>
#include <vector>

namespace callsign::storage {

// Thread-safety and lifetimes as embedded_user_directory (which must outlive this one).
class embedded_authenticator_directory final : public authenticator_directory {
 public:
  embedded_authenticator_directory(database& db, commit_sink& sink, blocking_executor blocking,
                                   embedded_user_directory& users);

  void find(std::string_view user_id, completion<stored_authenticator> done) override;
  // A non-empty record needs the user to exist (not_found otherwise), so no enrollment outlives
  // a deleted user.
  void put(std::string user_id, authenticator_record record, std::uint64_t expected_version, change_set extra,
           completion<std::uint64_t> done) override;

 private:
  void put_held(std::string user_id, authenticator_record record, std::uint64_t expected_version, change_set extra,
                completion<std::uint64_t> done, std::vector<std::string> key);

  database& db_;
  commit_sink& sink_;
  blocking_executor blocking_;
  embedded_user_directory& users_;
};

}  // namespace callsign::storage
