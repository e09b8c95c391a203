// Authenticator-app enrollments behind an interface (see user_directory.hpp for the rules):
// asynchronous calls, and writes conditional on the version the caller read.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "storage/authenticator_store.hpp"
#include "storage/change_set.hpp"
#include "storage/completion.hpp"

namespace callsign::storage {

// The user's enrollment (an empty record when none) and its version (0 when none is stored).
struct stored_authenticator {
  authenticator_record record;
  std::uint64_t version = 0;
};

// Thread-safety: every call may be made from any thread, concurrently with any other.
class authenticator_directory {
 public:
  virtual ~authenticator_directory() = default;

  virtual void find(std::string_view user_id, completion<stored_authenticator> done) = 0;

  // Stores `record` (an empty record removes the enrollment) if the stored version still
  // equals expected_version, with `extra`, as one atomic durable write; answers the new version
  // (0 after a removal). conflict when the version moved on, not_found when a non-empty record
  // is for a user that does not exist; nothing is written then.
  virtual void put(std::string user_id, authenticator_record record, std::uint64_t expected_version,
                   change_set extra, completion<std::uint64_t> done) = 0;

 protected:
  authenticator_directory() = default;
  authenticator_directory(const authenticator_directory&) = default;
  authenticator_directory& operator=(const authenticator_directory&) = default;
};

}  // namespace callsign::storage
