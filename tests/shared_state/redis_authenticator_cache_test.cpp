// redis_authenticator_directory's cache by user id: an enrollment, or its absence, found once is
// answered with no round trip; an authenticator event, an own write or the subscriber going
// away drops it; and a read that raced a drop is answered but never kept.
#include <boost/test/unit_test.hpp>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

#include "directory_test_support.hpp"
#include "held_client.hpp"
#include "storage/user_directory_test_support.hpp"

using namespace callsign;

namespace {

redis::reply none() {
  return redis::reply{redis::reply::kind::nil, 0, {}, {}};
}

storage::authenticator_record pending() {
  storage::authenticator_record record;
  record.pending_sealed = std::string("sealed-bytes");
  record.pending_since = 5;
  return record;
}

// callsign_authenticator_find's reply for `record` at `version`.
redis::reply enrollment(const storage::authenticator_record& record, std::uint64_t version) {
  redis::reply reply{redis::reply::kind::array, 0, {}, {}};
  reply.elements.push_back({redis::reply::kind::string, 0, std::to_string(version), {}});
  reply.elements.push_back({redis::reply::kind::string, 0, storage::encode_authenticator(record, version), {}});
  return reply;
}

struct held_world {
  test::held_client client;
  test::recording_sink sink;
  shared_state::directory_round_trips round_trips;
  shared_state::redis_authenticator_directory authenticators{client, sink, round_trips, {}, 16};

  // A find whose answer is `reply` when it reaches the client (none for a hit).
  storage::stored_authenticator find(const std::string& id, std::optional<redis::reply> reply) {
    std::optional<result<storage::stored_authenticator>> outcome;
    authenticators.find(id, [&](result<storage::stored_authenticator> r) { outcome = std::move(r); });
    if (reply) client.answer(std::move(*reply));
    BOOST_REQUIRE(outcome && *outcome);
    return **outcome;
  }
};

// The user id of a {"type":"authenticator","user":"..."} event, or "".
std::string authenticator_event_user(const std::string& event) {
  if (event.find(R"("type":"authenticator")") == std::string::npos) return {};
  const auto start = event.find(R"("user":")");
  if (start == std::string::npos) return {};
  return event.substr(start + 8, event.find('"', start + 8) - start - 8);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(redis_authenticator_cache_suite)

BOOST_AUTO_TEST_CASE(absence_and_enrollments_are_kept_and_a_raced_read_is_not) {
  held_world w;
  w.authenticators.events_connected(true);
  // No enrollment: kept, so the next find is a hit.
  BOOST_TEST(w.find("ann", none()).version == 0U);
  BOOST_TEST(w.find("ann", std::nullopt).record.empty());
  BOOST_TEST(w.client.held() == 0U);
  // An enrollment: kept as well.
  BOOST_TEST(w.find("bob", enrollment(pending(), 3)).version == 3U);
  auto hit = w.find("bob", std::nullopt);
  BOOST_TEST(hit.version == 3U);
  BOOST_TEST(*hit.record.pending_sealed == "sealed-bytes");
  BOOST_TEST(w.round_trips.authenticator_find_cache_hits.load() == 2U);
  BOOST_TEST(w.round_trips.authenticator_find.load() == 2U);

  // An event while a read of cat is in flight: the (older) reply is answered, not kept.
  std::optional<result<storage::stored_authenticator>> outcome;
  w.authenticators.find("cat", [&](result<storage::stored_authenticator> r) { outcome = std::move(r); });
  w.authenticators.authenticator_changed("cat");
  w.client.answer(none());
  BOOST_TEST((*outcome)->version == 0U);
  w.authenticators.find("cat", [](result<storage::stored_authenticator>) {});
  BOOST_TEST(w.client.held() == 1U);  // asked Redis again
  w.client.answer(enrollment(pending(), 1));

  // An event drops what was kept.
  w.authenticators.authenticator_changed("ann");
  w.authenticators.find("ann", [](result<storage::stored_authenticator>) {});
  BOOST_TEST(w.client.held() == 1U);
  w.client.answer(enrollment(pending(), 1));
}

BOOST_AUTO_TEST_CASE(nothing_is_cached_while_the_subscriber_is_not_known_up) {
  held_world w;
  (void)w.find("ann", none());
  w.authenticators.find("ann", [](result<storage::stored_authenticator>) {});
  BOOST_TEST(w.client.held() == 1U);  // no hit before events_connected(true)
  w.client.answer(none());

  w.authenticators.events_connected(true);
  (void)w.find("ann", none());
  (void)w.find("ann", std::nullopt);         // a hit
  w.authenticators.events_connected(false);  // events may be lost from now on: everything goes
  w.authenticators.find("ann", [](result<storage::stored_authenticator>) {});
  BOOST_TEST(w.client.held() == 1U);
  w.client.answer(none());
}

// Two nodes on one Redis: node A has found no enrollment for ann and keeps that; node B enrolls
// her, then removes the enrollment; each of B's events reaches A's cache.
BOOST_AUTO_TEST_CASE(another_nodes_enrollment_reaches_the_cache_through_its_event) {
  test::redis_directories a({}, {}, 16);
  std::atomic<int> events{0};
  a.events.on_message = [&](const std::string& event) {
    if (auto user = authenticator_event_user(event); !user.empty()) {
      a.authenticator_dir.authenticator_changed(user);
      ++events;
    }
  };
  a.authenticator_dir.events_connected(true);
  auto b_client = a.connect(a.server.port());
  test::recording_sink b_sink;
  shared_state::directory_round_trips b_trips;
  shared_state::redis_user_directory b_users(*b_client, b_sink, b_trips);
  shared_state::redis_authenticator_directory b(*b_client, b_sink, b_trips);

  BOOST_REQUIRE(test::put_user(b_users, {"ann", "ann@example.com", true, 10, 20}, 0));
  BOOST_TEST(test::find_authenticator(a.authenticators, "ann").version == 0U);
  BOOST_TEST(test::find_authenticator(a.authenticators, "ann").version == 0U);
  BOOST_TEST(a.round_trips.authenticator_find.load() == 1U);  // the second was a hit

  BOOST_REQUIRE(test::put_authenticator(b, "ann", pending(), 0));
  BOOST_REQUIRE(test::eventually([&] { return events.load() == 1; }));
  BOOST_TEST(test::find_authenticator(a.authenticators, "ann").version == 1U);
  BOOST_TEST(test::find_authenticator(a.authenticators, "ann").version == 1U);
  BOOST_TEST(a.round_trips.authenticator_find.load() == 2U);

  BOOST_REQUIRE(test::put_authenticator(b, "ann", {}, 1));  // removed
  BOOST_REQUIRE(test::eventually([&] { return events.load() == 2; }));
  BOOST_TEST(test::find_authenticator(a.authenticators, "ann").record.empty());
  b_client->stop();
}

BOOST_AUTO_TEST_CASE(an_own_write_drops_the_enrollment_before_its_event_arrives) {
  test::redis_directories a({}, {}, 16);  // no event handler: only the write itself drops
  a.authenticator_dir.events_connected(true);
  BOOST_REQUIRE(test::put_user(a.users, {"ann", "ann@example.com", true, 10, 20}, 0));
  BOOST_TEST(test::find_authenticator(a.authenticators, "ann").version == 0U);
  BOOST_REQUIRE(test::put_authenticator(a.authenticators, "ann", pending(), 0));
  BOOST_TEST(test::find_authenticator(a.authenticators, "ann").version == 1U);
  BOOST_REQUIRE(test::put_authenticator(a.authenticators, "ann", {}, 1));
  BOOST_TEST(test::find_authenticator(a.authenticators, "ann").record.empty());
}

// A user lookup that misses reads the enrollment in the same exec, by id and by email, so the
// verify's enrollment find that follows costs no round trip; a lookup by email keeps it only for
// the user it found.
BOOST_AUTO_TEST_CASE(a_user_lookup_brings_the_enrollment_in_the_same_round_trip) {
  test::redis_directories a({}, {}, 16);
  a.user_dir.pair_enrollments(a.authenticator_dir);
  a.user_dir.events_connected(true);
  a.authenticator_dir.events_connected(true);
  BOOST_REQUIRE(test::put_user(a.users, {"ann", "ann@example.com", true, 10, 20}, 0));
  BOOST_REQUIRE(test::put_user(a.users, {"bob", "bob@example.com", true, 10, 20}, 0));
  BOOST_REQUIRE(test::put_authenticator(a.authenticators, "bob", pending(), 0));
  const auto execs = a.client->round_trips();

  BOOST_TEST(test::find_user(a.users, "ann")->version == 1U);
  BOOST_TEST(test::find_authenticator(a.authenticators, "ann").version == 0U);
  BOOST_TEST(test::find_user_by_email(a.users, "bob@example.com")->record.id == "bob");
  auto bobs = test::find_authenticator(a.authenticators, "bob");
  BOOST_TEST(bobs.version == 1U);
  BOOST_TEST(*bobs.record.pending_sealed == "sealed-bytes");
  BOOST_TEST(a.client->round_trips() - execs == 2U);  // the two lookups; the enrollments came with them
  BOOST_TEST(a.round_trips.authenticator_find.load() == 0U);
  BOOST_TEST(a.round_trips.authenticator_find_cache_hits.load() == 2U);

  // Not while events cannot arrive: then nothing is kept, so nothing is read along either.
  a.authenticator_dir.events_connected(false);
  a.user_dir.user_changed("ann");
  BOOST_TEST(test::find_user(a.users, "ann")->version == 1U);
  BOOST_TEST(test::find_authenticator(a.authenticators, "ann").version == 0U);
  BOOST_TEST(a.round_trips.authenticator_find.load() == 1U);
}

BOOST_AUTO_TEST_SUITE_END()
