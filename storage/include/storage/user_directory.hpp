// The user directory behind an interface, so several callsignd nodes can share it (issue 18):
// every call is asynchronous (completion.hpp) and every write is conditional on the version the
// caller read, so two admins racing on one user cannot lose an update or leave the email index
// pointing at the wrong record. The embedded backend keeps users in RocksDB; tests also run an
// in-memory fake (tests/support/memory_user_directory.hpp) through the same contract suite.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "storage/change_set.hpp"
#include "storage/completion.hpp"
#include "storage/user_store.hpp"

namespace callsign::storage {

// A stored user and the version of its record: 1 when created, +1 on every write. Version 0
// never names a stored record; as an expected version it means "no user with this id".
struct stored_user {
  user_record record;
  std::uint64_t version = 0;
};

// Thread-safety: every call may be made from any thread, concurrently with any other.
class user_directory {
 public:
  virtual ~user_directory() = default;

  virtual void find(std::string_view id, completion<std::optional<stored_user>> done) = 0;
  virtual void find_by_email(std::string_view normalized_email, completion<std::optional<stored_user>> done) = 0;

  // Up to `limit` users with ids after `after` (empty: from the first), in byte order of the id.
  virtual void list(std::string_view after, std::size_t limit, completion<user_page> done) = 0;

  // Writes `user` if its id's stored version still equals expected_version (0: no such user
  // yet), together with `extra` (the audit entries of the change) as one atomic, durable write,
  // and answers the new version once it is durable. conflict when the version moved on, or
  // when the email belongs to another user; nothing is written then. A write racing another
  // one for the same id or email is decided after it, against what it left.
  virtual void put(user_record user, std::uint64_t expected_version, change_set extra,
                   completion<std::uint64_t> done) = 0;

  // Removes the user, its email index entry and its authenticator enrollment (deprovisioning)
  // if the stored version still equals expected_version, with `extra`, durably. not_found when
  // there is no such user, conflict when the version moved on. Replay marks are not touched: a
  // re-created id cannot replay an old code. No enrollment can be written for the user after
  // this (authenticator_directory::put needs the user).
  virtual void remove(std::string_view id, std::uint64_t expected_version, change_set extra,
                      completion<void> done) = 0;

 protected:
  user_directory() = default;
  user_directory(const user_directory&) = default;
  user_directory& operator=(const user_directory&) = default;
};

}  // namespace callsign::storage
