// Shared set-up for the verify_code and enrollment unit tests: real RocksDB user and
// authenticator stores in a temp dir, a two-version key ring, a manual clock, and replay marks
// and rate counters from the backend under test (tests/support/memory_state_backend.hpp or the
// embedded one). Each test case runs once per backend, so the suites double as the backends'
// contract test.
#pragma once

#include <boost/mpl/list.hpp>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <string>

#include "crypto/key_derivation.hpp"
#include "crypto/sealed_box.hpp"
#include "server/verification/authenticator_enrollment.hpp"
#include "server/verification/verify_code.hpp"
#include "storage/clock.hpp"
#include "storage/embedded_attempts.hpp"
#include "storage/embedded_authenticator_directory.hpp"
#include "storage/embedded_rate_counters.hpp"
#include "storage/embedded_replay_marks.hpp"
#include "storage/embedded_user_directory.hpp"
#include "storage/group_commit_writer.hpp"
#include "support/completion_wait.hpp"
#include "support/memory_state_backend.hpp"
#include "support/memory_user_directory.hpp"
#include "support/temp_directory.hpp"

namespace callsign::test {

struct memory_backend {
  static constexpr bool in_memory = true;
  memory_backend(storage::database&, storage::commit_sink&) {}
  memory_replay_marks marks;
  memory_rate_counters counters;
  memory_user_directory directory;
  storage::embedded_code_attempts attempts{marks, counters};
  storage::user_directory& users() { return directory; }
  storage::authenticator_directory& authenticators() { return directory; }
};

struct embedded_backend {
  static constexpr bool in_memory = false;
  embedded_backend(storage::database& db, storage::commit_sink& sink)
      : marks(db), counters(db), user_dir(db, sink, inline_work), authenticator_dir(db, sink, inline_work, user_dir) {}
  static void inline_work(std::function<void()> work) { work(); }
  storage::embedded_replay_marks marks;
  storage::embedded_rate_counters counters;
  storage::embedded_user_directory user_dir;
  storage::embedded_authenticator_directory authenticator_dir;
  storage::embedded_code_attempts attempts{marks, counters};
  storage::user_directory& users() { return user_dir; }
  storage::authenticator_directory& authenticators() { return authenticator_dir; }
};

using state_backends = boost::mpl::list<memory_backend, embedded_backend>;

inline constexpr std::int64_t rotated_at = 1'800'000'000;  // key version 2's creation time

// A shared backend that cannot settle (Redis away, a missed WAIT): the claim may be taken.
class failing_attempts final : public storage::code_attempts {
 public:
  void settle(const storage::code_attempt&, storage::change_set&,
              storage::completion<storage::code_attempt_result> done) override {
    done(make_error(error_kind::unavailable, "the shared state is unreachable"));
  }
};

template <typename Backend>
struct verification_fixture {
  temp_directory dir;
  std::unique_ptr<storage::database> db = [this] {
    auto opened = storage::database::open({dir.path() / "db", true});
    BOOST_REQUIRE(opened);
    return std::move(opened).value();
  }();
  crypto::key_ring ring = [] {
    auto parsed = crypto::key_ring::parse(
        "1 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n"
        "2 202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f " +
        std::to_string(rotated_at) + "\n");
    BOOST_REQUIRE(parsed);
    return std::move(parsed).value();
  }();
  server::server_config config;
  // 15 s into a 30 s step, so "the previous step" and "the next step" are whole steps away.
  storage::manual_clock clock{std::chrono::system_clock::time_point(std::chrono::seconds(rotated_at + 600 + 15))};
  std::unique_ptr<storage::group_commit_writer> writer = [this] {
    auto started = storage::group_commit_writer::start(*db, ring, clock, {});
    BOOST_REQUIRE(started);
    return std::move(started).value();
  }();
  // The RocksDB stores, read and written directly by the enrollment tests.
  storage::user_store users{*db};
  storage::authenticator_store authenticators{*db};
  Backend backend{*db, *writer};
  server::match_work work;

  ~verification_fixture() { writer->stop(); }

  verification_fixture() {
    config.keys.rotation_overlap_seconds = 3600;
    add_user("alice", true);
    add_user("bob", true);
    add_user("carol", false);  // no phone support
  }

  void add_user(const std::string& id, bool phone_support) {
    storage::user_record user;
    user.id = id;
    user.email = id + "@example.com";
    user.phone_support = phone_support;
    auto put = wait_for<std::uint64_t>(
        [&](auto done) { backend.users().put(user, 0, storage::change_set{}, std::move(done)); });
    BOOST_REQUIRE_MESSAGE(put, (put ? std::string() : put.error().message));
    if constexpr (Backend::in_memory) {
      // The enrollment tests read users from the RocksDB store.
      storage::change_set change;
      BOOST_REQUIRE(users.stage_upsert(user, std::nullopt, change));
      commit(change);
    }
  }

  // Gives `user` `record` in the backend's authenticator directory.
  void put_authenticator(const std::string& user, const storage::authenticator_record& record) {
    auto current = wait_for<storage::stored_authenticator>(
        [&](auto done) { backend.authenticators().find(user, std::move(done)); });
    BOOST_REQUIRE(current);
    auto put = wait_for<std::uint64_t>([&](auto done) {
      backend.authenticators().put(user, record, current->version, storage::change_set{}, std::move(done));
    });
    BOOST_REQUIRE_MESSAGE(put, (put ? std::string() : put.error().message));
  }

  void commit(const storage::change_set& changes) { BOOST_REQUIRE(db->write(changes.ops)); }

  std::int64_t now() const { return clock.unix_seconds(); }
  std::int64_t now_ms() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(clock.now().time_since_epoch()).count();
  }
  void advance(std::chrono::milliseconds by) { clock.advance(by); }
  std::uint64_t step() const { return crypto::totp_step(config.phone_token, now()); }

  // The phone token of `user` at `offset` steps from now, under key `version` (current by default).
  std::string token(const std::string& user, int offset = 0, std::uint32_t version = 2) const {
    return crypto::phone_token_at_step(*ring.find(version), user, config.phone_token,
                                       step() + static_cast<std::uint64_t>(static_cast<std::int64_t>(offset)));
  }

  server::verification_context verify_context() {
    return {ring, config, backend.users(), backend.authenticators(), backend.attempts, &work};
  }
  server::enrollment_context enrollment_context() {
    return {ring, config, clock, backend.authenticators(), backend.attempts, &work};
  }

  // One verify call, committed like the server does; returns the outcome and its audit draft.
  std::pair<server::verify_outcome, storage::audit_draft> verify(const std::string& user, const std::string& code,
                                                                 const std::string& agent = "agent-1",
                                                                 const std::string& ip = "192.0.2.1") {
    server::verify_request request;
    request.user_id = user;
    request.code = code;
    request.agent_id = agent;
    request.source_ip = ip;
    storage::change_set changes;
    const auto ctx = verify_context();
    auto out = wait_for<server::verify_outcome>(
        [&](auto done) { server::verify_code(ctx, request, now_ms(), changes, std::move(done)); });
    BOOST_REQUIRE_MESSAGE(out, (out ? std::string() : out.error().message));
    commit(changes);
    BOOST_REQUIRE_EQUAL(changes.audit.size(), 1U);
    return {*out, changes.audit.front()};
  }
};

inline std::optional<std::string> audit_detail(const storage::audit_draft& draft, std::string_view key) {
  for (const auto& [k, v] : draft.details) {
    if (k == key) return v;
  }
  return std::nullopt;
}

}  // namespace callsign::test
