// Shared fixtures of the audit journal tests: a database in a temp dir, a fixed key ring and
// a manual clock.
#pragma once

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <memory>
#include <string>

#include "crypto/key_ring.hpp"
#include "storage/change_set.hpp"
#include "storage/clock.hpp"
#include "storage/database.hpp"
#include "storage/group_commit_writer.hpp"
#include "support/temp_directory.hpp"

namespace callsign::test {

inline crypto::key_ring fixed_key_ring() {
  auto ring = crypto::key_ring::parse(
      "1 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n"
      "2 202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f\n");
  BOOST_REQUIRE(ring);
  return std::move(ring).value();
}

inline storage::audit_draft draft_for(std::string subject, std::string outcome = "valid") {
  storage::audit_draft draft;
  draft.time = 1700000000;
  draft.actor_type = "agent";
  draft.actor_id = "agent-7";
  draft.action = "verify";
  draft.subject = std::move(subject);
  draft.outcome = std::move(outcome);
  draft.source_ip = "192.0.2.10";
  draft.request_id = "req-1";
  draft.details = {{"ticket", "T-42"}, {"method", "phone_token"}};
  return draft;
}

inline storage::change_set change_with(storage::audit_draft draft) {
  storage::change_set change;
  change.add_audit(std::move(draft));
  return change;
}

inline storage::group_commit_options checkpoints(std::uint64_t every, std::int64_t interval_seconds) {
  storage::group_commit_options options;
  options.checkpoint_every = every;
  options.checkpoint_interval_seconds = interval_seconds;
  return options;
}

struct journal_fixture {
  temp_directory dir;
  crypto::key_ring ring = fixed_key_ring();
  storage::manual_clock clock{std::chrono::system_clock::time_point(std::chrono::seconds(1700000000))};
  std::unique_ptr<storage::database> db;

  journal_fixture() { reopen(); }

  void reopen() {
    db.reset();
    auto opened = storage::database::open({dir.path() / "db", true});
    BOOST_REQUIRE(opened);
    db = std::move(opened).value();
  }

  std::unique_ptr<storage::group_commit_writer> start_writer(storage::group_commit_options options = {}) {
    auto writer = storage::group_commit_writer::start(*db, ring, clock, std::move(options));
    BOOST_REQUIRE_MESSAGE(writer, (writer ? std::string() : writer.error().message));
    return std::move(writer).value();
  }
};

}  // namespace callsign::test
