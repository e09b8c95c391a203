// Helpers of the user directory tests: wait for a completion, the calls as plain functions, and
// the embedded directories over a database and a group-commit writer in a temp dir.
#pragma once

#include <boost/test/unit_test.hpp>

#include <atomic>
#include <future>
#include <memory>
#include <optional>
#include <string>

#include "audit_test_support.hpp"
#include "storage/embedded_authenticator_directory.hpp"
#include "storage/embedded_user_directory.hpp"
#include "support/completion_wait.hpp"

namespace callsign::test {

inline result<std::uint64_t> put_user(storage::user_directory& users, storage::user_record user,
                                      std::uint64_t expected, storage::change_set extra = {}) {
  return wait_for<std::uint64_t>([&](auto done) {
    users.put(std::move(user), expected, std::move(extra), std::move(done));
  });
}

inline result<void> remove_user(storage::user_directory& users, const std::string& id, std::uint64_t expected) {
  return wait_for<void>([&](auto done) { users.remove(id, expected, {}, std::move(done)); });
}

inline std::optional<storage::stored_user> find_user(storage::user_directory& users, const std::string& id) {
  auto found = wait_for<std::optional<storage::stored_user>>([&](auto done) { users.find(id, std::move(done)); });
  BOOST_REQUIRE(found);
  return *found;
}

inline std::optional<storage::stored_user> find_user_by_email(storage::user_directory& users,
                                                              const std::string& normalized_email) {
  auto found = wait_for<std::optional<storage::stored_user>>(
      [&](auto done) { users.find_by_email(normalized_email, std::move(done)); });
  BOOST_REQUIRE(found);
  return *found;
}

inline result<std::uint64_t> put_authenticator(storage::authenticator_directory& authenticators,
                                               const std::string& id, storage::authenticator_record record,
                                               std::uint64_t expected) {
  return wait_for<std::uint64_t>([&](auto done) {
    authenticators.put(id, std::move(record), expected, {}, std::move(done));
  });
}

inline storage::stored_authenticator find_authenticator(storage::authenticator_directory& authenticators,
                                                        const std::string& id) {
  auto found = wait_for<storage::stored_authenticator>([&](auto done) { authenticators.find(id, std::move(done)); });
  BOOST_REQUIRE(found);
  return *found;
}

// The embedded backend; blocking work runs inline and is counted.
struct embedded_directories {
  temp_directory dir;
  crypto::key_ring ring = fixed_key_ring();
  storage::manual_clock clock{std::chrono::system_clock::time_point(std::chrono::seconds(1700000000))};
  std::unique_ptr<storage::database> db = open();
  std::unique_ptr<storage::group_commit_writer> writer = start();
  std::atomic<int> blocking_runs{0};
  storage::blocking_executor blocking = [this](std::function<void()> work) {
    ++blocking_runs;
    work();
  };
  std::unique_ptr<storage::embedded_user_directory> user_dir =
      std::make_unique<storage::embedded_user_directory>(*db, *writer, blocking);
  std::unique_ptr<storage::embedded_authenticator_directory> authenticator_dir =
      std::make_unique<storage::embedded_authenticator_directory>(*db, *writer, blocking, *user_dir);
  storage::user_directory& users = *user_dir;
  storage::authenticator_directory& authenticators = *authenticator_dir;

  ~embedded_directories() { writer->stop(); }

  std::unique_ptr<storage::database> open() {
    auto opened = storage::database::open({dir.path() / "db", true});
    BOOST_REQUIRE(opened);
    return std::move(opened).value();
  }
  std::unique_ptr<storage::group_commit_writer> start() {
    auto started = storage::group_commit_writer::start(*db, ring, clock, {});
    BOOST_REQUIRE(started);
    return std::move(started).value();
  }
};

}  // namespace callsign::test
