#include "server/stream_fanout.hpp"

#include <boost/test/unit_test.hpp>

#include <functional>
#include <string>
#include <vector>

using namespace callsign::server;

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
  void deliver_token(std::uint64_t step, const stream_message& message) override {
    got.push_back(*message);
    steps.push_back(step);
    if (on_deliver) {
      on_deliver();
    }
  }
  std::string user;
  std::vector<std::string> got;
  std::vector<std::uint64_t> steps;
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

BOOST_AUTO_TEST_SUITE_END()
