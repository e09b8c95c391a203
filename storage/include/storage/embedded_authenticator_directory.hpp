// The embedded (RocksDB) authenticator directory: versioned records, writes serialized per user
// with the user directory's reservations (so deleting a user and enrolling an authenticator for
// it cannot interleave), durable through the commit sink before they answer.
//
// It keeps the ids that may have a record in memory, read from the column family when it is
// built and added to before each enrollment is written: a superset, so a find for any other id
// (most users never enroll an app, and a verify asks for every user) answers "none" without a
// RocksDB read. A removal leaves its id (a later find reads RocksDB and finds nothing), and
// nothing else in the process writes the family: a user's deletion removes the record through
// the user directory, which leaves a stale id too. docs/architecture.md, "Users and authenticators".
#pragma once

#include "storage/authenticator_directory.hpp"
#include "storage/embedded_user_directory.hpp"

#include <memory>
#include <string>
#include <vector>

namespace callsign::storage {

// Thread-safety and lifetimes as embedded_user_directory (which must outlive this one).
class embedded_authenticator_directory final : public authenticator_directory {
 public:
  embedded_authenticator_directory(database& db, commit_sink& sink, blocking_executor blocking,
                                   embedded_user_directory& users);
  ~embedded_authenticator_directory() override;

  void find(std::string_view user_id, completion<stored_authenticator> done) override;
  // A non-empty record needs the user to exist (not_found otherwise), so no enrollment outlives
  // a deleted user.
  void put(std::string user_id, authenticator_record record, std::uint64_t expected_version, change_set extra,
           completion<std::uint64_t> done) override;

 private:
  void put_held(std::string user_id, authenticator_record record, std::uint64_t expected_version, change_set extra,
                completion<std::uint64_t> done, std::vector<std::string> key);

  class enrolled_ids;

  database& db_;
  commit_sink& sink_;
  blocking_executor blocking_;
  embedded_user_directory& users_;
  std::unique_ptr<enrolled_ids> enrolled_;
};

}  // namespace callsign::storage
