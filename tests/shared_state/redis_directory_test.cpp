// What the Redis directories add to the contract: the key layout and the stored encoding
// (sealed bytes only), the events on cs:events, WAIT for replicas, the local journal after the
// Redis write, Redis going away, and one round trip per call.
#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <string>
#include <vector>

#include "directory_test_support.hpp"
#include "shared_state/attempt_functions.hpp"
#include "storage/user_directory_test_support.hpp"

using namespace callsign;

namespace {

storage::user_record user(const std::string& id, const std::string& email) {
  return {id, email, false, 10, 20};
}

storage::authenticator_record sealed_enrollment() {
  storage::authenticator_record record;
  record.active_sealed = std::string("\x01sealed\x00bytes", 13);
  record.activated_at = 7;
  return record;
}

// The value of a RESP bulk reply ("$3\r\nabc\r\n" -> "abc"), "(nil)" for a nil one, or the raw
// text of any other reply.
std::string bulk(const std::string& raw) {
  if (raw.rfind("$-1", 0) == 0) return "(nil)";
  if (raw.empty() || raw[0] != '$') return raw;
  const auto start = raw.find("\r\n") + 2;
  return raw.substr(start, std::stoul(raw.substr(1)));
}

storage::change_set audited(const std::string& action) {
  storage::change_set extra;
  extra.add_audit({1700000000, "admin", "root", action, "ann", "ok", "192.0.2.1", "req-1", {}});
  return extra;
}

int kind_of(const result<std::uint64_t>& outcome) {
  return outcome ? -1 : static_cast<int>(outcome.error().kind);
}
constexpr int unavailable = static_cast<int>(error_kind::unavailable);

}  // namespace

BOOST_AUTO_TEST_SUITE(redis_directory_suite)

BOOST_AUTO_TEST_CASE(records_are_stored_in_the_embedded_encoding_under_the_documented_keys) {
  test::redis_directories r;
  BOOST_REQUIRE(test::put_user(r.users, user("ann", "ann@example.com"), 0));
  BOOST_REQUIRE(test::put_authenticator(r.authenticators, "ann", sealed_enrollment(), 0));
  BOOST_TEST(bulk(r.server.command({"HGET", "cs:{u:ann}:user", "record"})) ==
             storage::encode_user(user("ann", "ann@example.com"), 1));
  BOOST_TEST(bulk(r.server.command({"HGET", "cs:{u:ann}:user", "version"})) == "1");
  BOOST_TEST(bulk(r.server.command({"HGET", "cs:{u:ann}:user", "email"})) == "ann@example.com");
  BOOST_TEST(bulk(r.server.command({"GET", "cs:email:ann@example.com"})) == "ann");
  BOOST_TEST(r.server.command({"ZSCORE", "cs:users", "ann"}).find("0") != std::string::npos);
  // The sealed blob exactly as the embedded backend stores it, nothing decoded.
  BOOST_TEST(bulk(r.server.command({"HGET", "cs:{u:ann}:auth", "record"})) ==
             storage::encode_authenticator(sealed_enrollment(), 1));
  auto found = test::find_authenticator(r.authenticators, "ann");
  BOOST_TEST(found.version == 1U);
  BOOST_TEST(*found.record.active_sealed == *sealed_enrollment().active_sealed);
}

BOOST_AUTO_TEST_CASE(every_change_publishes_an_event_and_a_refusal_publishes_none) {
  test::redis_directories r;
  BOOST_REQUIRE(test::put_user(r.users, user("ann", "ann@example.com"), 0));
  BOOST_REQUIRE(!test::put_user(r.users, user("ann", "ann@example.com"), 0));  // refused: no event
  BOOST_REQUIRE(test::put_authenticator(r.authenticators, "ann", sealed_enrollment(), 0));
  BOOST_REQUIRE(test::remove_user(r.users, "ann", 1));
  // In order on the channel: a refusal's event would sit between the first two.
  auto events = r.events.wait_for(4);
  BOOST_REQUIRE_EQUAL(events.size(), 4U);
  auto has = [](const std::string& event, const std::string& part) { return event.find(part) != std::string::npos; };
  BOOST_TEST(
      (has(events[0], R"("type":"user")") && has(events[0], R"("id":"ann")") && has(events[0], R"("version":1)")));
  BOOST_TEST((has(events[1], R"("type":"authenticator")") && has(events[1], R"("user":"ann")") &&
              has(events[1], R"("version":1)")));
  BOOST_TEST((has(events[2], R"("type":"user")") && has(events[2], R"("version":0)")));
  BOOST_TEST((has(events[3], R"("type":"authenticator")") && has(events[3], R"("version":0)")));
  for (const auto& event : events) BOOST_TEST(!has(event, "sealed"));
}

BOOST_AUTO_TEST_CASE(audit_entries_go_to_the_local_journal_after_the_redis_write) {
  test::redis_directories r;
  BOOST_REQUIRE(test::put_user(r.users, user("ann", "ann@example.com"), 0, audited("user.create")));
  BOOST_REQUIRE(!test::put_user(r.users, user("ann", "ann@example.com"), 0, audited("user.update")));
  auto committed = r.sink.committed();
  BOOST_REQUIRE_EQUAL(committed.size(), 1U);  // the refused write committed nothing
  BOOST_TEST(committed[0].audit.at(0).action == "user.create");
}

BOOST_AUTO_TEST_CASE(a_failed_local_commit_answers_its_error_and_the_redis_write_stands) {
  test::redis_directories r;
  r.sink.fail_with(make_error(error_kind::storage_failed, "disk full"));
  auto put = test::put_user(r.users, user("ann", "ann@example.com"), 0, audited("user.create"));
  BOOST_TEST(kind_of(put) == static_cast<int>(error_kind::storage_failed));
  BOOST_TEST(test::find_user(r.users, "ann")->version == 1U);  // made on Redis before the commit
}

BOOST_AUTO_TEST_CASE(wait_with_a_replica_asked_for_and_none_attached_answers_unavailable_after_the_change) {
  test::redis_directories r(shared_state::directory_options{.wait_replicas = 1, .wait_timeout_ms = 50});
  auto put = test::put_user(r.users, user("ann", "ann@example.com"), 0, audited("user.create"));
  BOOST_REQUIRE_EQUAL(kind_of(put), unavailable);
  BOOST_TEST(put.error().message.find("ann") == std::string::npos);
  BOOST_TEST(test::find_user(r.users, "ann")->version == 1U);  // the change is made on the primary
  // and journaled before the 503, saying that no replica confirmed it
  const auto committed = r.sink.committed();
  BOOST_TEST_REQUIRE(committed.size() == 1U);
  BOOST_TEST_REQUIRE(committed[0].audit.size() == 1U);
  BOOST_TEST(committed[0].audit[0].action == "user.create");
  const auto& details = committed[0].audit[0].details;
  BOOST_TEST((std::find(details.begin(), details.end(), std::pair<std::string, std::string>{"replicas", "unconfirmed"}) !=
              details.end()));
  auto enroll = test::put_authenticator(r.authenticators, "ann", sealed_enrollment(), 0);
  BOOST_TEST(kind_of(enroll) == unavailable);
  BOOST_TEST(static_cast<int>(test::remove_user(r.users, "ann", 1).error().kind) == unavailable);
}

BOOST_AUTO_TEST_CASE(wait_with_an_attached_replica_passes) {
  test::redis_directories r(shared_state::directory_options{.wait_replicas = 1, .wait_timeout_ms = 1000});
  test::redis_process replica(
      r.dir.path(), {.name = "replica", .config_lines = {"replicaof 127.0.0.1 " + std::to_string(r.server.port())}});
  BOOST_REQUIRE(test::eventually([&] {
    return r.server.command({"INFO", "replication"}).find("connected_slaves:1") != std::string::npos &&
           replica.command({"INFO", "replication"}).find("master_link_status:up") != std::string::npos;
  }));
  BOOST_TEST(*test::put_user(r.users, user("ann", "ann@example.com"), 0) == 1U);
  BOOST_TEST(*test::put_authenticator(r.authenticators, "ann", sealed_enrollment(), 0) == 1U);
  BOOST_TEST(bulk(replica.command({"HGET", "cs:{u:ann}:user", "version"})) == "1");
  BOOST_TEST(replica.stop() == 0);
}

BOOST_AUTO_TEST_CASE(redis_stopped_answers_unavailable_with_a_generic_message) {
  test::redis_directories r;
  BOOST_REQUIRE(test::put_user(r.users, user("ann", "ann@example.com"), 0));
  BOOST_REQUIRE_EQUAL(r.server.stop(), 0);
  auto find = test::wait_for<std::optional<storage::stored_user>>([&](auto done) { r.users.find("ann", done); });
  BOOST_REQUIRE(!find);
  BOOST_TEST(static_cast<int>(find.error().kind) == unavailable);
  auto by_email = test::wait_for<std::optional<storage::stored_user>>(
      [&](auto done) { r.users.find_by_email("ann@example.com", done); });
  BOOST_TEST(static_cast<int>(by_email.error().kind) == unavailable);
  auto page = test::wait_for<storage::user_page>([&](auto done) { r.users.list("", 10, done); });
  BOOST_TEST(static_cast<int>(page.error().kind) == unavailable);
  auto put = test::put_user(r.users, user("ann", "new@example.com"), 1, audited("user.update"));
  BOOST_TEST(kind_of(put) == unavailable);
  BOOST_TEST(static_cast<int>(test::remove_user(r.users, "ann", 1).error().kind) == unavailable);
  auto enrollment =
      test::wait_for<storage::stored_authenticator>([&](auto done) { r.authenticators.find("ann", done); });
  BOOST_TEST(static_cast<int>(enrollment.error().kind) == unavailable);
  BOOST_TEST(kind_of(test::put_authenticator(r.authenticators, "ann", sealed_enrollment(), 0)) == unavailable);
  BOOST_TEST(r.sink.committed().empty());
  for (const std::string& message : {find.error().message, put.error().message}) {
    BOOST_TEST(message.find("ann") == std::string::npos);
    BOOST_TEST(message.find("example.com") == std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(every_call_is_one_round_trip) {
  test::redis_directories r;
  const auto before = r.client->round_trips();
  BOOST_REQUIRE(test::put_user(r.users, user("ann", "ann@example.com"), 0, audited("user.create")));
  BOOST_REQUIRE(test::find_user(r.users, "ann"));
  BOOST_REQUIRE(test::wait_for<std::optional<storage::stored_user>>(
      [&](auto done) { r.users.find_by_email("ann@example.com", done); }));
  BOOST_REQUIRE(test::wait_for<storage::user_page>([&](auto done) { r.users.list("", 10, done); }));
  BOOST_REQUIRE(test::put_authenticator(r.authenticators, "ann", sealed_enrollment(), 0));
  (void)test::find_authenticator(r.authenticators, "ann");
  BOOST_REQUIRE(test::remove_user(r.users, "ann", 1));
  BOOST_TEST(r.client->round_trips() - before == 7U);
  for (const auto& [operation, count] : r.round_trips.snapshot()) {
    BOOST_TEST(count == 1U, operation);
  }
}

// Two writers start one user's enrollment from the same read: exactly one wins.
BOOST_AUTO_TEST_CASE(racing_enrollments_let_exactly_one_through) {
  test::redis_directories r;
  BOOST_REQUIRE(test::put_user(r.users, user("ann", "ann@example.com"), 0));
  for (std::uint64_t round = 0; round < 20; ++round) {
    std::vector<result<std::uint64_t>> outcomes(4, make_error(error_kind::internal, "unset"));
    std::vector<std::thread> writers;
    for (std::size_t i = 0; i < outcomes.size(); ++i) {
      writers.emplace_back(
          [&, i] { outcomes[i] = test::put_authenticator(r.authenticators, "ann", sealed_enrollment(), round); });
    }
    for (auto& writer : writers) writer.join();
    int wins = 0, conflicts = 0;
    for (const auto& outcome : outcomes) {
      if (outcome)
        ++wins;
      else if (outcome.error().kind == error_kind::conflict)
        ++conflicts;
    }
    BOOST_TEST(wins == 1, "round " << round);
    BOOST_TEST(conflicts == 3);
    BOOST_TEST(test::find_authenticator(r.authenticators, "ann").version == round + 1);
  }
}

// Function names are global across libraries: the attempts library must load beside this one.
BOOST_AUTO_TEST_CASE(the_directory_and_attempts_libraries_load_side_by_side) {
  test::redis_directories r;
  const auto loaded = r.server.command({"FUNCTION", "LOAD", "REPLACE", std::string(shared_state::attempts_library())});
  BOOST_TEST(bulk(loaded) == "callsign_attempts");
  const auto libraries = r.server.command({"FUNCTION", "LIST"});
  BOOST_TEST(libraries.find("callsign_directory") != std::string::npos);
  BOOST_TEST(libraries.find("callsign_attempts") != std::string::npos);
  BOOST_TEST(*test::put_user(r.users, user("ann", "ann@example.com"), 0) == 1U);
}

// The same words as the embedded backend (embedded_user_directory.cpp), never an id or email.
BOOST_AUTO_TEST_CASE(refusals_say_what_the_embedded_backend_says) {
  test::redis_directories r;
  BOOST_REQUIRE(test::put_user(r.users, user("ann", "ann@example.com"), 0));
  BOOST_TEST(test::put_user(r.users, user("ann", "x@example.com"), 0).error().message ==
             "the user changed since it was read; read it again");
  BOOST_TEST(test::put_user(r.users, user("bob", "ann@example.com"), 0).error().message ==
             "that email belongs to another user");
  BOOST_TEST(test::remove_user(r.users, "bob", 1).error().message == "no user has that id");
  BOOST_TEST(test::put_authenticator(r.authenticators, "bob", sealed_enrollment(), 0).error().message ==
             "no user has that id");
  BOOST_REQUIRE(test::put_authenticator(r.authenticators, "ann", sealed_enrollment(), 0));
  BOOST_TEST(test::put_authenticator(r.authenticators, "ann", sealed_enrollment(), 0).error().message ==
             "the authenticator changed since it was read; read it again");
}

BOOST_AUTO_TEST_SUITE_END()
