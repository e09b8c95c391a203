#include "server/stream/stream_fanout.hpp"

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstdio>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "crypto/totp.hpp"
#include "server/stream/stream_auth.hpp"
#include "storage/authenticator_store.hpp"
#include "support/memory_user_directory.hpp"
#include "support/temp_directory.hpp"

using namespace callsign::server;
namespace storage = callsign::storage;

namespace callsign::server {
// For Boost.Test's messages (found by ADL).
std::ostream& operator<<(std::ostream& out, stream_boundary_action action) {
  constexpr const char* names[] = {"send", "skip", "close_expired", "close_refused"};
  return out << names[static_cast<int>(action)];
}
}  // namespace callsign::server

namespace {

stream_message msg(std::string text) { return std::make_shared<const std::string>(std::move(text)); }

std::shared_ptr<const stream_token_table> table_of(std::vector<std::pair<std::string, std::uint64_t>> tokens) {
  std::vector<stream_token_table::entry> entries;
  for (auto& [user, step] : tokens) {
    entries.push_back({user, step, msg(user + "@" + std::to_string(step))});
  }
  return std::make_shared<const stream_token_table>(std::move(entries));
}

// A stream that records what it was handed, and may act on the fan-out while being handed it.
struct recording_member final : stream_fanout_member {
  explicit recording_member(std::string u) : user(std::move(u)) {}
  std::string_view fanout_user() const override { return user; }
  void deliver_token(const stream_token_table::entry& token, std::int64_t at) override {
    got.push_back(token.message ? *token.message : std::string("(refused)"));
    steps.push_back(token.step);
    ats.push_back(at);
    if (on_deliver) {
      on_deliver();
    }
  }
  std::string user;
  std::vector<std::string> got;
  std::vector<std::uint64_t> steps;
  std::vector<std::int64_t> ats;
  std::function<void()> on_deliver;
};

}  // namespace

BOOST_AUTO_TEST_SUITE(stream_fanout_tests)

BOOST_AUTO_TEST_CASE(token_table_finds_each_user_once) {
  auto table = table_of({{"alice", 7}, {"bob", 7}});
  BOOST_TEST(table->size() == 2U);
  const auto* alice = table->find("alice");
  BOOST_REQUIRE(alice != nullptr);
  BOOST_TEST(alice->step == 7U);
  BOOST_TEST(*alice->message == "alice@7");
  BOOST_TEST(table->find("carol") == nullptr);
  BOOST_TEST(table->find("alic") == nullptr);
}

BOOST_AUTO_TEST_CASE(walk_hands_every_stream_its_users_shared_message) {
  stream_fanout fanout;
  recording_member a1("alice"), a2("alice"), b("bob"), c("carol");
  for (auto* m : {&a1, &a2, &b, &c}) {
    fanout.add(*m);
  }
  fanout.add(a1);  // already listed
  BOOST_TEST(fanout.size() == 4U);
  auto table = table_of({{"alice", 3}, {"bob", 3}});
  fanout.begin(table);
  BOOST_TEST(fanout.walking());
  BOOST_TEST(!fanout.deliver(100));
  BOOST_TEST(!fanout.walking());
  BOOST_TEST(a1.got == std::vector<std::string>{"alice@3"});
  BOOST_TEST(a2.got == std::vector<std::string>{"alice@3"});
  BOOST_TEST(b.got == std::vector<std::string>{"bob@3"});
  BOOST_TEST(c.got.empty());  // not in the table: subscribed after it was built
  BOOST_TEST(a1.steps == std::vector<std::uint64_t>{3});
  BOOST_TEST(!fanout.deliver(100));  // no walk: nothing happens
  BOOST_TEST(a1.got.size() == 1U);
  for (auto* m : {&a1, &a2, &b, &c}) {
    fanout.remove(*m);
  }
}

BOOST_AUTO_TEST_CASE(walk_is_split_into_turns_by_the_budget) {
  stream_fanout fanout;
  std::vector<std::unique_ptr<recording_member>> members;
  for (int i = 0; i < 10; ++i) {
    members.push_back(std::make_unique<recording_member>("u" + std::to_string(i)));
    fanout.add(*members.back());
  }
  std::vector<std::pair<std::string, std::uint64_t>> tokens;
  for (int i = 0; i < 10; ++i) {
    tokens.emplace_back("u" + std::to_string(i), 1);
  }
  fanout.begin(table_of(tokens));
  int turns = 1;
  while (fanout.deliver(4)) {
    ++turns;
    // Between turns a stream is handed nothing twice and a later one nothing yet.
    std::size_t served = 0;
    for (const auto& m : members) {
      BOOST_TEST(m->got.size() <= 1U);
      served += m->got.size();
    }
    BOOST_TEST(served == static_cast<std::size_t>(4 * (turns - 1)));
  }
  BOOST_TEST(turns == 3);
  for (const auto& m : members) {
    BOOST_TEST(m->got.size() == 1U);
    fanout.remove(*m);
  }
  BOOST_TEST(fanout.size() == 0U);
}

BOOST_AUTO_TEST_CASE(members_may_leave_and_join_during_a_walk) {
  stream_fanout fanout;
  recording_member a("alice"), b("bob"), c("carol"), late("dave");
  fanout.add(a);
  fanout.add(b);
  fanout.add(c);
  // alice's write fails while she is served: she leaves the fan-out from inside the walk.
  a.on_deliver = [&] { fanout.remove(a); };
  fanout.begin(table_of({{"alice", 5}, {"bob", 5}, {"carol", 5}, {"dave", 5}}));
  BOOST_TEST(fanout.deliver(1));
  BOOST_TEST(!fanout.contains(a));
  // Between turns: bob closes, dave subscribes.
  fanout.remove(b);
  fanout.add(late);
  BOOST_TEST(!fanout.deliver(100));
  BOOST_TEST(a.got.size() == 1U);
  BOOST_TEST(b.got.empty());
  BOOST_TEST(c.got == std::vector<std::string>{"carol@5"});
  BOOST_TEST(late.got == std::vector<std::string>{"dave@5"});  // added behind the cursor's way
  BOOST_TEST(fanout.size() == 2U);
  fanout.remove(c);
  fanout.remove(late);
  fanout.remove(late);  // idempotent
  BOOST_TEST(fanout.size() == 0U);
}

BOOST_AUTO_TEST_CASE(a_newer_table_restarts_the_walk) {
  stream_fanout fanout;
  recording_member a("alice"), b("bob");
  fanout.add(a);
  fanout.add(b);
  fanout.begin(table_of({{"alice", 1}, {"bob", 1}}));
  BOOST_TEST(fanout.deliver(1));
  fanout.begin(table_of({{"alice", 2}, {"bob", 2}}));
  BOOST_TEST(!fanout.deliver(10));
  BOOST_TEST(a.steps == (std::vector<std::uint64_t>{1, 2}));
  BOOST_TEST(b.steps == std::vector<std::uint64_t>{2});
  fanout.remove(a);
  fanout.remove(b);
}

BOOST_AUTO_TEST_CASE(holes_are_compacted_and_the_rest_still_served) {
  stream_fanout fanout;
  std::vector<std::unique_ptr<recording_member>> members;
  for (int i = 0; i < 300; ++i) {
    members.push_back(std::make_unique<recording_member>(i % 2 == 0 ? "even" : "odd"));
    fanout.add(*members.back());
  }
  for (int i = 0; i < 290; ++i) {
    fanout.remove(*members[static_cast<std::size_t>(i)]);
  }
  BOOST_TEST(fanout.size() == 10U);
  fanout.begin(table_of({{"even", 9}, {"odd", 9}}));
  BOOST_TEST(!fanout.deliver(10));  // the budget counts streams, not holes
  for (int i = 0; i < 300; ++i) {
    BOOST_TEST(members[static_cast<std::size_t>(i)]->got.size() == (i < 290 ? 0U : 1U));
  }
  for (int i = 290; i < 300; ++i) {
    fanout.remove(*members[static_cast<std::size_t>(i)]);
  }
}

BOOST_AUTO_TEST_CASE(a_prepared_walk_serves_the_same_streams_as_a_lookup) {
  stream_fanout fanout;
  std::vector<std::unique_ptr<recording_member>> members;
  for (int i = 0; i < 200; ++i) {
    members.push_back(std::make_unique<recording_member>("u" + std::to_string(i % 50)));
    fanout.add(*members.back());
  }
  std::vector<std::pair<std::string, std::uint64_t>> tokens;
  for (int i = 0; i < 40; ++i) {  // u40..u49 subscribed after the table was built
    tokens.emplace_back("u" + std::to_string(i), 8);
  }
  auto table = table_of(tokens);
  fanout.prepare(table);
  // Between the preparation and the boundary: most streams close (a compaction moves the rest),
  // and new ones arrive.
  for (int i = 0; i < 150; ++i) {
    fanout.remove(*members[static_cast<std::size_t>(i)]);
  }
  recording_member newcomer("u3"), stranger("u45");
  fanout.add(newcomer);
  fanout.add(stranger);
  fanout.begin(table);
  while (fanout.deliver(7)) {
  }
  for (int i = 0; i < 200; ++i) {
    const auto& m = *members[static_cast<std::size_t>(i)];
    const bool served = i >= 150 && i % 50 < 40;
    BOOST_TEST(m.got == (served ? std::vector<std::string>{m.user + "@8"} : std::vector<std::string>{}));
  }
  BOOST_TEST(newcomer.got == std::vector<std::string>{"u3@8"});
  BOOST_TEST(stranger.got.empty());
  // A walk with a table that was not prepared looks each user up.
  fanout.begin(table_of({{"u45", 9}}));
  BOOST_TEST(!fanout.deliver(1000));
  BOOST_TEST(stranger.got == std::vector<std::string>{"u45@9"});
  BOOST_TEST(newcomer.got.size() == 1U);
  for (int i = 150; i < 200; ++i) {
    fanout.remove(*members[static_cast<std::size_t>(i)]);
  }
  fanout.remove(newcomer);
  fanout.remove(stranger);
}

// --- what a stream does with its boundary entry (issue 16: a stream outlived its token) -----

namespace {
stream_token_table::entry entry_of(stream_access access) {
  stream_token_table::entry e{"alice", 7, access == stream_access::allowed ? msg("alice@7") : nullptr};
  e.access = access;
  return e;
}
}  // namespace

BOOST_AUTO_TEST_CASE(a_boundary_at_or_after_the_tokens_expiry_closes_instead_of_sending) {
  const std::int64_t valid_until = 1'800'000'031;
  const auto allowed = entry_of(stream_access::allowed);
  BOOST_TEST(stream_boundary_action_for(allowed, valid_until - 1, valid_until) == stream_boundary_action::send);
  // The boundary and the expiry at the same second: the close wins, the code is never sent.
  BOOST_TEST(stream_boundary_action_for(allowed, valid_until, valid_until) == stream_boundary_action::close_expired);
  BOOST_TEST(stream_boundary_action_for(allowed, valid_until + 30, valid_until) ==
             stream_boundary_action::close_expired);
  // Expired and refused at once: closed either way, as expired.
  BOOST_TEST(stream_boundary_action_for(entry_of(stream_access::no_phone_support), valid_until, valid_until) ==
             stream_boundary_action::close_expired);
}

BOOST_AUTO_TEST_CASE(a_user_without_access_is_closed_and_an_unreadable_one_gets_no_code) {
  const std::int64_t valid_until = INT64_MAX;  // not expiring
  BOOST_TEST(stream_boundary_action_for(entry_of(stream_access::no_phone_support), 60, valid_until) ==
             stream_boundary_action::close_refused);
  BOOST_TEST(stream_boundary_action_for(entry_of(stream_access::no_account), 60, valid_until) ==
             stream_boundary_action::close_refused);
  BOOST_TEST(stream_boundary_action_for(entry_of(stream_access::unknown), 60, valid_until) ==
             stream_boundary_action::skip);
  // The close texts are the auth's own refusals, so a reconnect is told the same.
  BOOST_TEST(stream_access_error(stream_access::no_phone_support) == "phone support is not enabled for your account");
  BOOST_TEST(stream_access_error(stream_access::no_account) == "your account is not registered with callsign");
  BOOST_TEST(stream_access_error(stream_access::allowed).empty());
  BOOST_TEST(stream_access_error(stream_access::unknown).empty());
}

BOOST_AUTO_TEST_CASE(the_walk_hands_members_refusals_and_the_boundary_time) {
  std::vector<stream_token_table::entry> entries;
  entries.push_back(entry_of(stream_access::allowed));
  stream_token_table::entry bob{"bob", 0, nullptr};
  bob.access = stream_access::no_phone_support;
  entries.push_back(std::move(bob));
  auto table = std::make_shared<const stream_token_table>(std::move(entries), 1'800'000'010);
  BOOST_TEST(table->at() == 1'800'000'010);
  stream_fanout fanout;
  recording_member a("alice"), b("bob");
  fanout.add(a);
  fanout.add(b);
  fanout.begin(table);
  BOOST_TEST(!fanout.deliver(100));
  BOOST_TEST(a.got == std::vector<std::string>{"alice@7"});
  BOOST_TEST(b.got == std::vector<std::string>{"(refused)"});
  BOOST_TEST(a.ats == std::vector<std::int64_t>{1'800'000'010});
  BOOST_TEST(b.ats == std::vector<std::int64_t>{1'800'000'010});
  fanout.remove(a);
  fanout.remove(b);
}

namespace {

// The boundary table as the token timer builds it, against a real user store.
struct table_fixture {
  callsign::test::temp_directory dir;
  std::FILE* log_sink = std::tmpfile();
  json_log log{log_sink};
  storage::manual_clock clock{std::chrono::system_clock::time_point(std::chrono::seconds(1'800'000'000))};
  std::unique_ptr<storage::database> db = [this] {
    auto opened = storage::database::open({dir.path() / "db", true});
    BOOST_REQUIRE(opened);
    return std::move(opened).value();
  }();
  callsign::test::memory_user_directory users;
  std::unique_ptr<app_context> app;

  table_fixture() {
    auto ring = callsign::crypto::key_ring::generate();
    BOOST_REQUIRE(ring);
    app = std::make_unique<app_context>(server_config{}, log, clock, *db, std::move(ring).value());
    app->user_directory = &users;
    put_user("alice", true);
    put_user("bob", false);
  }
  ~table_fixture() { std::fclose(log_sink); }

  void put_user(const std::string& id, bool phone_support) {
    std::uint64_t version = 0;
    users.find(id, [&](callsign::result<std::optional<storage::stored_user>> found) {
      BOOST_REQUIRE(found);
      if (*found) version = (*found)->version;
    });
    storage::user_record user{id, id + "@example.com", phone_support, 1, 2};
    std::optional<callsign::result<std::uint64_t>> written;
    users.put(user, version, {}, [&](callsign::result<std::uint64_t> answer) { written.emplace(std::move(answer)); });
    BOOST_REQUIRE(written.has_value());
    BOOST_REQUIRE(written->has_value());
  }
};

}  // namespace

BOOST_FIXTURE_TEST_CASE(the_boundary_table_reads_each_users_access_again, table_fixture) {
  const std::int64_t boundary = 1'800'000'010;
  auto table = build_stream_token_table(*app, {"alice", "bob", "carol"}, boundary);
  BOOST_TEST(table->size() == 3U);
  BOOST_TEST(table->at() == boundary);
  const auto* alice = table->find("alice");
  BOOST_REQUIRE(alice != nullptr);
  BOOST_TEST((alice->access == stream_access::allowed));
  BOOST_TEST(alice->step == callsign::crypto::totp_step(app->config.phone_token, boundary));
  BOOST_REQUIRE(alice->message != nullptr);
  BOOST_TEST(*alice->message == stream_token_at(*app, "alice", boundary).message);
  // Phone support off, and no such user (deleted, or never registered): a refusal, no code.
  const auto* bob = table->find("bob");
  BOOST_REQUIRE(bob != nullptr);
  BOOST_TEST((bob->access == stream_access::no_phone_support));
  BOOST_TEST(bob->message == nullptr);
  const auto* carol = table->find("carol");
  BOOST_REQUIRE(carol != nullptr);
  BOOST_TEST((carol->access == stream_access::no_account));
  BOOST_TEST(carol->message == nullptr);

  // An admin turns alice's phone support off between two boundaries: the next table refuses her.
  put_user("alice", false);
  BOOST_TEST((stream_user_access(*app, "alice") == stream_access::no_phone_support));
  auto next = build_stream_token_table(*app, {"alice"}, boundary + 30);
  BOOST_TEST((next->find("alice")->access == stream_access::no_phone_support));
  BOOST_TEST(next->find("alice")->message == nullptr);
}

BOOST_FIXTURE_TEST_CASE(an_authenticator_does_not_change_a_users_access_to_codes, table_fixture) {
  // Verify accepts both the phone code and the authenticator's code while phone support is on
  // (docs/stream.md): an active or pending authenticator leaves the stream's codes flowing.
  storage::authenticator_record record;
  record.active_sealed = std::string("sealed-bytes-not-opened-here");
  record.activated_at = 1;
  std::optional<callsign::result<std::uint64_t>> written;
  static_cast<storage::authenticator_directory&>(users).put(
      "alice", record, 0, {}, [&](callsign::result<std::uint64_t> answer) { written.emplace(std::move(answer)); });
  BOOST_REQUIRE(written.has_value());
  BOOST_REQUIRE(written->has_value());
  BOOST_TEST((stream_user_access(*app, "alice") == stream_access::allowed));
  auto table = build_stream_token_table(*app, {"alice"}, 1'800'000'010);
  BOOST_TEST((table->find("alice")->access == stream_access::allowed));
  BOOST_TEST(table->find("alice")->message != nullptr);
}

BOOST_AUTO_TEST_SUITE_END()
