// The audit checkpoint exchange between nodes (docs/audit.md, "Several nodes"): over a small
// in-memory stand-in for Redis here (what each round sends, refusals, stop with an exec in
// flight); against a real redis-server in checkpoint_exchange_redis_test.cpp.
#include "server/cluster/checkpoint_exchange.hpp"

#include <boost/test/unit_test.hpp>
#include <string>
#include <vector>

#include "checkpoint_exchange_support.hpp"

using namespace callsign;
using test::exchange_node;

BOOST_AUTO_TEST_SUITE(checkpoint_exchange_suite)

BOOST_AUTO_TEST_CASE(two_nodes_link_each_other_in_one_exec_a_round_and_settle) {
  test::fake_redis redis;
  exchange_node a("node-a", redis);
  exchange_node b("node-b", redis);
  a.journal.add_entries(3);
  b.journal.add_entries(2);
  a.start_exchange();
  b.start_exchange();

  BOOST_REQUIRE(test::wait_until([&] { return a.holds_link_to("node-b", 2) && b.holds_link_to("node-a", 3); }));
  const auto report = test::cross_verify({&a.journal, &b.journal});
  BOOST_TEST(report.intact());
  BOOST_TEST(report.links_checked >= 2U);

  // Each round is one exec: [XADD when new] HSET, then HGETALL last.
  bool saw_xadd = false;
  for (const auto& exec : redis.execs_of("node-a")) {
    BOOST_REQUIRE(!exec.empty());
    BOOST_TEST((exec.back() == redis::command{"HGETALL", "cs:audit:latest"}));
    if (exec.size() < 3) continue;
    saw_xadd = true;
    const auto& x = exec[0];
    BOOST_REQUIRE(x.size() == 18U);
    BOOST_TEST((std::vector<std::string>(x.begin(), x.begin() + 9) ==
                std::vector<std::string>{"XADD", "cs:audit:checkpoints", "MAXLEN", "~", "10000", "*", "node", "node-a",
                                         "seq"}));
    BOOST_TEST(x[9] == "3");
    BOOST_TEST(x[10] == "head");
    const auto entry_3 = a.read_journal.at(3);
    BOOST_REQUIRE(entry_3 && entry_3->has_value());
    BOOST_TEST(x[11] == (*entry_3)->hash);
    BOOST_TEST((x[12] == "key_version" && x[13] == "2" && x[14] == "sig" && x[15].size() == 128U && x[16] == "time"));
    BOOST_TEST(exec[1][0] == "HSET");
    BOOST_TEST(exec[1][2] == "node-a");
    BOOST_TEST(exec[1][3] == "{\"node\":\"node-a\",\"seq\":3,\"head\":\"" + x[11] + "\",\"key_version\":2,\"sig\":\"" +
                                 x[15] + "\",\"time\":" + x[17] + "}");
  }
  BOOST_TEST(saw_xadd);

  // Settled: own audit.link entries are not published as news, so each node links the other's
  // one checkpoint once, and an idle pair then stops writing. Bounded by rounds, not time: 10
  // more rounds each must add nothing.
  BOOST_REQUIRE(test::wait_until(
      [&] { return a.exchange->stats().links_written >= 1U && b.exchange->stats().links_written >= 1U; }));
  const auto a_links = a.exchange->stats().links_written;
  const auto b_links = b.exchange->stats().links_written;
  BOOST_TEST(a_links == 1U);
  BOOST_TEST(b_links == 1U);
  const auto a_rounds = a.exchange->stats().rounds;
  const auto b_rounds = b.exchange->stats().rounds;
  BOOST_REQUIRE(test::wait_until(
      [&] { return a.exchange->stats().rounds >= a_rounds + 10 && b.exchange->stats().rounds >= b_rounds + 10; }));
  BOOST_TEST(a.exchange->stats().links_written == a_links);
  BOOST_TEST(b.exchange->stats().links_written == b_links);
  BOOST_TEST(a.exchange->stats().published >= 1U);

  // News on b is linked by a.
  b.journal.add_entries(1);
  const std::uint64_t b_head = b.journal.head_link().seq;
  BOOST_REQUIRE(test::wait_until([&] { return a.holds_link_to("node-b", b_head); }));
  BOOST_TEST(test::cross_verify({&a.journal, &b.journal}).intact());
}

BOOST_AUTO_TEST_CASE(checkpoints_with_a_bad_signature_are_refused_and_never_linked) {
  test::fake_redis redis;
  exchange_node a("node-a", redis);
  a.journal.add_entries(1);
  // node-y: validly signed. node-x: its signature does not cover its head. node-w: signed by a
  // ring this cluster does not hold. node-v: not a checkpoint at all.
  storage::audit_hash head{};
  head[0] = 7;
  const std::string good = test::signed_record("node-y", 5, head, test::fixed_key_ring());
  std::string forged = test::signed_record("node-x", 5, head, test::fixed_key_ring());
  forged.replace(forged.find("\"head\":\"07") + 8, 2, "08");
  auto other_ring = crypto::key_ring::parse("2 " + std::string(64, 'e') + "\n");
  BOOST_REQUIRE(other_ring);
  const std::string foreign = test::signed_record("node-w", 5, head, *other_ring);
  redis.set_latest({{"node-y", good}, {"node-x", forged}, {"node-w", foreign}, {"node-v", "{\"seq\":1}"}});
  a.start_exchange();

  BOOST_REQUIRE(test::wait_until([&] { return a.holds_link_to("node-y", 5); }));
  BOOST_REQUIRE(test::wait_until([&] { return a.exchange->stats().checkpoints_refused == 3U; }));
  for (const char* refused : {"node-x", "node-w", "node-v"}) BOOST_TEST(!a.holds_any_link_to(refused), refused);
  const std::string log = a.log_text();
  BOOST_TEST(log.find("\"node\":\"node-x\",\"reason\":\"bad signature\"") != std::string::npos);
  BOOST_TEST(log.find("\"node\":\"node-v\",\"reason\":\"malformed\"") != std::string::npos);
  BOOST_TEST(log.find(forged.substr(forged.find("\"sig\":\"") + 7, 128)) == std::string::npos);  // no signature
  // Refusals are logged once per record, not every round.
  const auto rounds = a.exchange->stats().rounds;
  BOOST_REQUIRE(test::wait_until([&] { return a.exchange->stats().rounds >= rounds + 5; }));
  BOOST_TEST(a.exchange->stats().checkpoints_refused == 3U);
}

BOOST_AUTO_TEST_CASE(redis_down_is_logged_once_and_stop_leaves_an_exec_in_flight_safely) {
  test::fake_redis redis;
  exchange_node a("node-a", redis);
  a.journal.add_entries(1);
  redis.set_down(true);
  a.start_exchange();
  BOOST_REQUIRE(test::wait_until([&] { return a.exchange->stats().rounds_failed >= 5U; }));
  const std::string log = a.log_text();
  const auto first = log.find("Redis did not answer");
  BOOST_TEST(first != std::string::npos);
  BOOST_TEST(log.find("Redis did not answer", first + 1) == std::string::npos);
  BOOST_TEST(a.exchange->stats().links_written == 0U);

  // Held: the next exec gets no answer until after the exchange is gone.
  redis.set_down(false);
  redis.hold(true);
  BOOST_REQUIRE(test::wait_until([&] { return redis.held() == 1U; }));
  a.exchange->stop();
  a.exchange.reset();
  redis.release_held();  // completes into the shared state; ASan would see any use after free
  BOOST_TEST(redis.held() == 0U);
}

BOOST_AUTO_TEST_CASE(an_invalid_node_id_is_refused) {
  test::fake_redis redis;
  exchange_node a("node-a", redis);
  server::checkpoint_exchange_options options;
  options.node_id = "Node A";
  BOOST_TEST(!server::checkpoint_exchange::start(options, redis, *a.journal.writer, a.read_journal, a.journal.ring,
                                                 a.journal.clock, a.log));
}

BOOST_AUTO_TEST_SUITE_END()
