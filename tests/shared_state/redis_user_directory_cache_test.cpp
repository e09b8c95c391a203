// redis_user_directory's cache of records by id and by email: hits cost no round trip, and a
// record (with its email) is dropped by an event, by an own write, by the subscriber going away,
// and never kept from a read that raced a drop.
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

storage::user_record user(const std::string& id, const std::string& email) {
  return {id, email, true, 10, 20};
}

// callsign_user_find's reply for `record` at `version`.
redis::reply found(const storage::user_record& record, std::uint64_t version) {
  redis::reply reply{redis::reply::kind::array, 0, {}, {}};
  reply.elements.push_back({redis::reply::kind::string, 0, std::to_string(version), {}});
  reply.elements.push_back({redis::reply::kind::string, 0, storage::encode_user(record, version), {}});
  return reply;
}

// callsign_user_find_by_email's reply for `record` at `version`.
redis::reply found_by_email(const storage::user_record& record, std::uint64_t version) {
  redis::reply reply = found(record, version);
  reply.elements.insert(reply.elements.begin(), {redis::reply::kind::string, 0, record.id, {}});
  return reply;
}

// The id of a {"type":"user","id":"..."} event, or "".
std::string user_event_id(const std::string& event) {
  if (event.find(R"("type":"user")") == std::string::npos) return {};
  const auto start = event.find(R"("id":")");
  if (start == std::string::npos) return {};
  return event.substr(start + 6, event.find('"', start + 6) - start - 6);
}

// A find on a held client: the call, then (unless `hit`) its answer.
std::optional<storage::stored_user> held_find(test::held_client& client, shared_state::redis_user_directory& users,
                                              const std::string& id, std::optional<redis::reply> reply) {
  std::optional<result<std::optional<storage::stored_user>>> outcome;
  users.find(id, [&](result<std::optional<storage::stored_user>> r) { outcome = std::move(r); });
  if (reply) client.answer(std::move(*reply));
  BOOST_REQUIRE(outcome && *outcome);
  return **outcome;
}

std::optional<storage::stored_user> held_find_by_email(test::held_client& client,
                                                       shared_state::redis_user_directory& users,
                                                       const std::string& email, std::optional<redis::reply> reply) {
  std::optional<result<std::optional<storage::stored_user>>> outcome;
  users.find_by_email(email, [&](result<std::optional<storage::stored_user>> r) { outcome = std::move(r); });
  if (reply) client.answer(std::move(*reply));
  BOOST_REQUIRE(outcome && *outcome);
  return **outcome;
}

struct held_world {
  test::held_client client;
  test::recording_sink sink;
  shared_state::directory_round_trips round_trips;
  shared_state::redis_user_directory users{client, sink, round_trips, {}, 16};
};

// Two nodes on one Redis: node A caches and drops what B's user events name; node B writes.
struct two_nodes {
  test::redis_directories a{{}, {}, 16};
  std::atomic<int> user_events{0};
  std::unique_ptr<redis::client> b_client;
  test::recording_sink b_sink;
  shared_state::directory_round_trips b_trips;
  std::unique_ptr<shared_state::redis_user_directory> b;

  two_nodes() {
    a.events.on_message = [this](const std::string& event) {
      if (auto id = user_event_id(event); !id.empty()) {
        a.user_dir.user_changed(id);
        ++user_events;
      }
    };
    a.user_dir.events_connected(true);
    b_client = a.connect(a.server.port());
    b = std::make_unique<shared_state::redis_user_directory>(*b_client, b_sink, b_trips);
  }
  ~two_nodes() { b_client->stop(); }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(redis_user_directory_cache_suite)

BOOST_AUTO_TEST_CASE(a_read_that_raced_a_drop_is_answered_but_not_kept) {
  held_world w;
  w.users.events_connected(true);
  // Control: a read with nothing in between is kept, and the next find is a hit.
  BOOST_TEST(held_find(w.client, w.users, "ann", found(user("ann", "a@example.com"), 1))->version == 1U);
  BOOST_TEST(held_find(w.client, w.users, "ann", std::nullopt)->version == 1U);
  BOOST_TEST(w.round_trips.user_find_cache_hits.load() == 1U);

  // An event while a read of bob is in flight: the (older) reply is answered, not kept.
  std::optional<result<std::optional<storage::stored_user>>> outcome;
  w.users.find("bob", [&](result<std::optional<storage::stored_user>> r) { outcome = std::move(r); });
  w.users.user_changed("bob");
  w.client.answer(found(user("bob", "b@example.com"), 1));
  BOOST_TEST((*outcome)->value().version == 1U);
  w.users.find("bob", [](result<std::optional<storage::stored_user>>) {});
  BOOST_TEST(w.client.held() == 1U);  // asked Redis again
  w.client.answer(found(user("bob", "b@example.com"), 2));
}

BOOST_AUTO_TEST_CASE(an_email_read_that_raced_a_drop_is_answered_but_not_kept) {
  held_world w;
  w.users.events_connected(true);
  // Control: kept, and both an email and an id find then hit.
  BOOST_TEST(held_find_by_email(w.client, w.users, "a@example.com", found_by_email(user("ann", "a@example.com"), 1))
                 ->record.id == "ann");
  BOOST_TEST(held_find_by_email(w.client, w.users, "a@example.com", std::nullopt)->version == 1U);
  BOOST_TEST(held_find(w.client, w.users, "ann", std::nullopt)->version == 1U);
  BOOST_TEST(w.round_trips.user_find_cache_hits.load() == 2U);

  std::optional<result<std::optional<storage::stored_user>>> outcome;
  w.users.find_by_email("b@example.com",
                        [&](result<std::optional<storage::stored_user>> r) { outcome = std::move(r); });
  w.users.user_changed("bob");
  w.client.answer(found_by_email(user("bob", "b@example.com"), 1));
  BOOST_TEST((*outcome)->value().record.id == "bob");
  w.users.find_by_email("b@example.com", [](result<std::optional<storage::stored_user>>) {});
  BOOST_TEST(w.client.held() == 1U);  // asked Redis again
  w.client.answer(found_by_email(user("bob", "b@example.com"), 2));

  // A drop of ann takes her email with her.
  w.users.user_changed("ann");
  w.users.find_by_email("a@example.com", [](result<std::optional<storage::stored_user>>) {});
  BOOST_TEST(w.client.held() == 1U);
  w.client.answer(redis::reply{redis::reply::kind::nil, 0, {}, {}});
}

BOOST_AUTO_TEST_CASE(nothing_is_cached_while_the_subscriber_is_not_known_up) {
  held_world w;
  (void)held_find(w.client, w.users, "ann", found(user("ann", "a@example.com"), 1));
  w.users.find("ann", [](result<std::optional<storage::stored_user>>) {});
  BOOST_TEST(w.client.held() == 1U);  // no hit before events_connected(true)
  w.client.answer(found(user("ann", "a@example.com"), 1));

  w.users.events_connected(true);
  (void)held_find(w.client, w.users, "ann", found(user("ann", "a@example.com"), 1));
  BOOST_TEST(held_find(w.client, w.users, "ann", std::nullopt)->version == 1U);  // a hit
  w.users.events_connected(false);  // events may be lost from now on: everything goes
  w.users.find("ann", [](result<std::optional<storage::stored_user>>) {});
  BOOST_TEST(w.client.held() == 1U);
  w.client.answer(found(user("ann", "a@example.com"), 1));
}

// Two nodes on one Redis: node A caches, node B writes, B's event drops A's record.
BOOST_AUTO_TEST_CASE(another_nodes_write_reaches_the_cache_through_its_event) {
  two_nodes nodes;
  auto& a = nodes.a;
  auto& b = *nodes.b;
  auto& user_events = nodes.user_events;

  BOOST_REQUIRE(test::put_user(b, user("ann", "ann@example.com"), 0));
  BOOST_REQUIRE(test::eventually([&] { return user_events.load() == 1; }));
  BOOST_TEST(test::find_user(a.users, "ann")->version == 1U);
  BOOST_TEST(test::find_user(a.users, "ann")->version == 1U);
  BOOST_TEST(a.round_trips.user_find.load() == 1U);  // the second find was a hit
  BOOST_TEST(a.round_trips.user_find_cache_hits.load() == 1U);

  BOOST_REQUIRE(test::put_user(b, user("ann", "ann2@example.com"), 1));
  BOOST_REQUIRE(test::eventually([&] { return user_events.load() == 2; }));
  auto now = test::find_user(a.users, "ann");
  BOOST_TEST(now->version == 2U);
  BOOST_TEST(now->record.email == "ann2@example.com");
  BOOST_REQUIRE(test::remove_user(b, "ann", 2));
  BOOST_REQUIRE(test::eventually([&] { return user_events.load() == 3; }));
  BOOST_TEST(!test::find_user(a.users, "ann"));
}

// An email that moves from ann to bob on node B: A's cached ann never answers for it again.
BOOST_AUTO_TEST_CASE(an_email_that_moves_to_another_user_is_read_again) {
  two_nodes nodes;
  auto& a = nodes.a;
  auto& b = *nodes.b;
  auto& user_events = nodes.user_events;

  BOOST_REQUIRE(test::put_user(b, user("ann", "shared@example.com"), 0));
  BOOST_REQUIRE(test::eventually([&] { return user_events.load() == 1; }));
  BOOST_TEST(test::find_user_by_email(a.users, "shared@example.com")->record.id == "ann");
  BOOST_TEST(test::find_user_by_email(a.users, "shared@example.com")->record.id == "ann");
  BOOST_TEST(a.round_trips.user_find_by_email.load() == 1U);  // the second was a hit
  BOOST_TEST(a.round_trips.user_find_cache_hits.load() == 1U);

  BOOST_REQUIRE(test::put_user(b, user("ann", "ann@example.com"), 1));
  BOOST_REQUIRE(test::put_user(b, user("bob", "shared@example.com"), 0));
  BOOST_REQUIRE(test::eventually([&] { return user_events.load() == 3; }));
  BOOST_TEST(test::find_user_by_email(a.users, "shared@example.com")->record.id == "bob");
  BOOST_TEST(test::find_user_by_email(a.users, "ann@example.com")->record.id == "ann");
  BOOST_TEST(a.round_trips.user_find_by_email.load() == 3U);
  BOOST_REQUIRE(test::remove_user(b, "bob", 1));
  BOOST_REQUIRE(test::eventually([&] { return user_events.load() == 4; }));
  BOOST_TEST(!test::find_user_by_email(a.users, "shared@example.com"));
}

BOOST_AUTO_TEST_CASE(an_own_write_drops_the_record_before_its_event_arrives) {
  test::redis_directories a({}, {}, 16);  // no event handler: only the write itself drops
  a.user_dir.events_connected(true);
  BOOST_REQUIRE(test::put_user(a.users, user("ann", "ann@example.com"), 0));
  BOOST_TEST(test::find_user(a.users, "ann")->version == 1U);
  BOOST_REQUIRE(test::put_user(a.users, user("ann", "ann2@example.com"), 1));
  BOOST_TEST(test::find_user(a.users, "ann")->version == 2U);
  BOOST_REQUIRE(test::remove_user(a.users, "ann", 2));
  BOOST_TEST(!test::find_user(a.users, "ann"));
}

BOOST_AUTO_TEST_SUITE_END()
