// Phone tokens across a master key rotation: the previous version's tokens verify until
// [keys] rotation_overlap_seconds after the new version's creation, never after; the new
// version's always. Real RocksDB stores, a manual clock, no sockets.
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <string>

#include "crypto/key_derivation.hpp"
#include "server/verification/verify_code.hpp"
#include "storage/clock.hpp"
#include "verification_fixture.hpp"

using namespace callsign;

namespace {

using backend = test::embedded_backend;
using test::rotated_at;  // version 2's creation time

crypto::key_ring rotated_ring(std::int64_t created_at = rotated_at) {
  auto ring = crypto::key_ring::parse(
      "1 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n"
      "2 202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f " +
      std::to_string(created_at) + "\n");
  BOOST_REQUIRE(ring);
  return std::move(ring).value();
}

struct overlap_fixture {
  test::temp_directory dir;
  std::unique_ptr<storage::database> db = [this] {
    auto opened = storage::database::open({dir.path() / "db", true});
    BOOST_REQUIRE(opened);
    return std::move(opened).value();
  }();
  crypto::key_ring ring = rotated_ring();
  server::server_config config;
  storage::manual_clock clock{std::chrono::system_clock::time_point(std::chrono::seconds(rotated_at + 10))};
  std::unique_ptr<storage::group_commit_writer> writer = [this] {
    auto started = storage::group_commit_writer::start(*db, ring, clock, {});
    BOOST_REQUIRE(started);
    return std::move(started).value();
  }();
  backend state{*db, *writer};

  ~overlap_fixture() { writer->stop(); }

  overlap_fixture() {
    config.keys.rotation_overlap_seconds = 3600;
    config.verify.user_failures = 1000;  // many wrong codes below; none of them should throttle
    for (const char* id : {"alice", "bob"}) {
      storage::user_record user;
      user.id = id;
      user.email = std::string(id) + "@example.com";
      user.phone_support = true;
      auto put = test::wait_for<std::uint64_t>(
          [&](auto done) { state.users().put(user, 0, storage::change_set{}, std::move(done)); });
      BOOST_REQUIRE(put);
    }
  }

  std::int64_t now() const { return clock.unix_seconds(); }

  std::string token(std::uint32_t version, const std::string& user) const {
    return crypto::phone_token(*ring.find(version), user, config.phone_token, now());
  }

  // One verify call, committed like the server does (the audit draft is returned, not chained).
  std::pair<server::verify_outcome, storage::audit_draft> verify(const std::string& user, const std::string& code) {
    const server::verification_context ctx{ring, config, state.users(), state.authenticators(), state.attempts};
    server::verify_request request;
    request.user_id = user;
    request.code = code;
    request.agent_id = "agent-1";
    request.source_ip = "192.0.2.1";
    storage::change_set changes;
    auto out = test::wait_for<server::verify_outcome>(
        [&](auto done) { server::verify_code(ctx, request, now() * 1000, changes, std::move(done)); });
    BOOST_REQUIRE_MESSAGE(out, (out ? std::string() : out.error().message));
    BOOST_REQUIRE(db->write(changes.ops));
    BOOST_REQUIRE(changes.audit.size() == 1U);
    return {*out, changes.audit.front()};
  }
};

std::optional<std::string> detail(const storage::audit_draft& draft, std::string_view key) {
  for (const auto& [k, v] : draft.details) {
    if (k == key) return v;
  }
  return std::nullopt;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(verify_overlap_suite)

BOOST_AUTO_TEST_CASE(the_previous_key_counts_until_the_overlap_ends) {
  const auto ring = rotated_ring();
  BOOST_TEST(server::previous_phone_token_key_accepted(ring, 3600, rotated_at));
  BOOST_TEST(server::previous_phone_token_key_accepted(ring, 3600, rotated_at + 3599));
  BOOST_TEST(!server::previous_phone_token_key_accepted(ring, 3600, rotated_at + 3600));
  BOOST_TEST(!server::previous_phone_token_key_accepted(ring, 0, rotated_at));       // overlap switched off
  BOOST_TEST(!server::previous_phone_token_key_accepted(rotated_ring(0), 3600, 5));  // creation time unknown
  auto single = crypto::key_ring::parse("1 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f 5\n");
  BOOST_REQUIRE(single);
  BOOST_TEST(!server::previous_phone_token_key_accepted(*single, 3600, 6));  // nothing to overlap with
}

BOOST_FIXTURE_TEST_CASE(old_tokens_verify_during_the_overlap_and_not_after, overlap_fixture) {
  // During the overlap: the previous version's token is accepted, and the audit says so.
  const auto [old_out, old_audit] = verify("alice", token(1, "alice"));
  BOOST_TEST(old_out.valid);
  BOOST_TEST(old_audit.outcome == "valid");
  BOOST_TEST(detail(old_audit, "key_version").value_or("none") == "1");

  const auto [new_out, new_audit] = verify("bob", token(2, "bob"));
  BOOST_TEST(new_out.valid);
  BOOST_TEST(!detail(new_audit, "key_version").has_value());  // the current version is the normal case

  // Past the overlap (the clock crosses created_at + 3600): old tokens are refused, new ones not.
  clock.set(std::chrono::system_clock::time_point(std::chrono::seconds(rotated_at + 3600 + 60)));
  const auto [late_old, late_old_audit] = verify("alice", token(1, "alice"));
  BOOST_TEST(!late_old.valid);
  BOOST_TEST(late_old_audit.outcome == "invalid");
  const auto [late_new, late_new_audit] = verify("alice", token(2, "alice"));
  BOOST_TEST(late_new.valid);
  BOOST_TEST(late_new_audit.outcome == "valid");
}

BOOST_FIXTURE_TEST_CASE(an_old_token_is_single_use_like_any_other, overlap_fixture) {
  const std::string code = token(1, "alice");
  BOOST_TEST(verify("alice", code).first.valid);
  const auto [again, audit] = verify("alice", code);
  BOOST_TEST(!again.valid);
  BOOST_TEST(audit.outcome == "replayed");
  // The new version's token of the same step shares the step's mark.
  BOOST_TEST(verify("alice", token(2, "alice")).second.outcome == "replayed");
}

BOOST_AUTO_TEST_SUITE_END()
