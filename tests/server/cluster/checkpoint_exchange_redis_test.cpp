// The audit checkpoint exchange against a real redis-server (support/redis_process.hpp): two
// nodes, each with its own client, journal and writer, link each other's signed heads; the
// stream and the hash hold what docs/audit.md says.
#include <boost/test/unit_test.hpp>
#include <string>

#include "checkpoint_exchange_support.hpp"
#include "redis/client.hpp"
#include "support/redis_process.hpp"
#include "support/temp_directory.hpp"

using namespace callsign;

namespace {

std::unique_ptr<redis::client> client_for(const test::redis_process& server) {
  redis::client_options options;
  options.address = {"127.0.0.1", server.port()};
  options.reconnect_min = std::chrono::milliseconds(20);
  options.reconnect_max = std::chrono::milliseconds(200);
  return redis::client::start(options, {}, {});
}

}  // namespace

BOOST_AUTO_TEST_SUITE(checkpoint_exchange_redis_suite)

BOOST_AUTO_TEST_CASE(two_nodes_exchange_signed_checkpoints_through_redis) {
  test::temp_directory dir;
  test::redis_process server(dir.path());
  {
    auto client_a = client_for(server);
    auto client_b = client_for(server);
    BOOST_REQUIRE(test::wait_until([&] { return client_a->status().connected && client_b->status().connected; }));
    test::exchange_node a("node-a", *client_a);
    test::exchange_node b("node-b", *client_b);
    a.journal.add_entries(4);
    b.journal.add_entries(2);
    a.start_exchange();
    b.start_exchange();

    BOOST_REQUIRE(test::wait_until([&] { return a.holds_link_to("node-b", 2) && b.holds_link_to("node-a", 4); }));
    BOOST_TEST(test::cross_verify({&a.journal, &b.journal}).intact());

    // The stream has an entry per new checkpoint; the hash one record per node.
    const std::string length = server.command({"XLEN", "cs:audit:checkpoints"});
    BOOST_TEST(length == ":2\r\n", length);  // one each: own audit.link entries are not news
    const std::string latest = server.command({"HGET", "cs:audit:latest", "node-a"});
    BOOST_TEST(latest.find("{\"node\":\"node-a\",\"seq\":4,\"head\":\"") != std::string::npos, latest);
    const std::string first = server.command({"XRANGE", "cs:audit:checkpoints", "-", "+", "COUNT", "1"});
    BOOST_TEST(first.find("key_version") != std::string::npos);

    // A rewritten history on b now breaks the link a holds.
    a.exchange.reset();
    b.exchange.reset();
    b.journal.writer.reset();
    test::rewrite_history(*b.journal.db, b.journal.ring, 1);
    const auto report = test::cross_verify({&a.journal, &b.journal});
    BOOST_TEST(!report.intact());
    BOOST_TEST(!report.broken.empty());
    client_a->stop();
    client_b->stop();
  }
  BOOST_TEST(server.stop() == 0);
}

BOOST_AUTO_TEST_SUITE_END()
