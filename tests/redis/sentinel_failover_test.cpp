// Sentinel mode against real processes: a primary, a replica and three redis-sentinels on
// loopback. The client finds the primary through the sentinels (skipping one that is down),
// follows a failover after SIGKILL of the primary within 10 s (its subscriber too), and
// authenticates to sentinels.
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <memory>
#include <thread>

#include "redis_test_support.hpp"
#include "support/temp_directory.hpp"

using namespace callsign;
using namespace std::chrono_literals;

namespace {
const std::string master_name = "callsign-primary";

std::vector<std::string> sentinel_lines(std::uint16_t primary_port, int quorum) {
  return {"sentinel resolve-hostnames no",
          "sentinel monitor " + master_name + " 127.0.0.1 " + std::to_string(primary_port) + " " + std::to_string(quorum),
          "sentinel down-after-milliseconds " + master_name + " 1000",
          "sentinel failover-timeout " + master_name + " 5000"};
}

test::redis_process_options sentinel_options(std::string name, std::vector<std::string> lines) {
  return {.binary = "/usr/bin/redis-sentinel", .name = std::move(name), .config_lines = std::move(lines),
          .no_persistence = false};
}

// A field of SENTINEL MASTER's flat reply, as the raw RESP of its value.
bool master_field_is(const test::redis_process& sentinel, const std::string& field, const std::string& value) {
  const std::string answer = sentinel.command({"SENTINEL", "MASTER", master_name});
  return answer.find("$" + std::to_string(field.size()) + "\r\n" + field + "\r\n$" + std::to_string(value.size()) +
                     "\r\n" + value + "\r\n") != std::string::npos;
}
}  // namespace

BOOST_AUTO_TEST_SUITE(sentinel_suite)

BOOST_AUTO_TEST_CASE(follows_the_promoted_replica_after_the_primary_is_killed) {
  test::temp_directory dir;
  test::redis_process primary(dir.path(), {.name = "primary"});
  test::redis_process replica(dir.path(), {.name = "replica",
                                           .config_lines = {"replicaof 127.0.0.1 " + std::to_string(primary.port())}});
  BOOST_REQUIRE(test::wait_until([&] {
    return replica.command({"INFO", "replication"}).find("master_link_status:up") != std::string::npos;
  }));
  std::vector<std::unique_ptr<test::redis_process>> sentinels;
  for (int i = 0; i < 3; ++i) {
    sentinels.push_back(std::make_unique<test::redis_process>(
        dir.path(), sentinel_options("sentinel" + std::to_string(i), sentinel_lines(primary.port(), 2))));
  }
  // A failover needs every sentinel to know the other two and the replica (hello messages
  // arrive every 2 s).
  for (const auto& sentinel : sentinels) {
    BOOST_REQUIRE(test::wait_until([&] {
      return master_field_is(*sentinel, "num-other-sentinels", "2") && master_field_is(*sentinel, "num-slaves", "1");
    }, 20000ms));
  }
  test::redis_process gone(dir.path(), {.name = "gone"});
  const auto gone_port = gone.port();
  BOOST_TEST(gone.stop() == 0);

  redis::client_options options;
  options.master_name = master_name;
  options.sentinels.push_back({"127.0.0.1", gone_port});  // down: the next one is asked
  for (const auto& sentinel : sentinels) options.sentinels.push_back({"127.0.0.1", sentinel->port()});
  options.reconnect_min = 20ms;
  options.reconnect_max = 500ms;
  options.command_timeout = 1000ms;
  auto client = redis::client::start(options, {}, {});
  BOOST_REQUIRE(test::wait_connected(*client));
  const auto before = client->status().primary;
  BOOST_TEST(before.address.port == primary.port());
  BOOST_TEST(before.epoch == 1U);
  auto written = test::exec_wait(*client, {{"SET", "cs:before", "1"}, {"WAIT", "1", "2000"}});
  BOOST_REQUIRE(written);
  BOOST_TEST(written->at(1).integer == 1);

  // A burst of execs across the failover: each is answered (a value or unavailable), none hangs.
  std::atomic<bool> bursting{true};
  std::atomic<int> answered{0};
  std::atomic<int> unanswered{0};
  std::thread burst([&] {
    while (bursting) {
      auto answer = test::exec_wait(*client, {{"INCR", "cs:burst"}}, 5000ms);
      if (!answer && answer.error().kind != error_kind::unavailable) ++unanswered;
      ++answered;
    }
  });
  BOOST_REQUIRE(test::wait_until([&] { return answered.load() > 20; }));
  primary.kill();
  const auto killed = std::chrono::steady_clock::now();
  const bool followed = test::wait_until([&] {
    const auto status = client->status();
    return status.connected && status.primary.address.port == replica.port();
  }, 10000ms);
  const int at_follow = answered.load();
  BOOST_TEST(test::wait_until([&] { return answered.load() > at_follow + 20; }));  // and it goes on
  bursting = false;
  burst.join();
  BOOST_TEST(unanswered.load() == 0);
  BOOST_TEST_MESSAGE("followed the failover in "
                     << std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - killed).count()
                     << " ms");
  BOOST_REQUIRE(followed);
  const auto after = client->status().primary;
  BOOST_TEST(after.epoch == 2U);
  BOOST_TEST(after.run_id != before.run_id);
  auto read = test::exec_wait(*client, {{"GET", "cs:before"}, {"SET", "cs:after", "1"}});
  BOOST_REQUIRE(read);
  BOOST_TEST(read->at(0).text == "1");
  BOOST_TEST(read->at(1).is_status("OK"));
  client->stop();
  for (const auto& sentinel : sentinels) BOOST_TEST(sentinel->stop() == 0);
  BOOST_TEST(replica.stop() == 0);
}

BOOST_AUTO_TEST_CASE(authenticates_to_sentinels_and_hides_a_wrong_password) {
  test::temp_directory dir;
  test::redis_process primary(dir.path(), {.name = "primary"});
  auto lines = sentinel_lines(primary.port(), 1);
  lines.push_back("requirepass sentinel-pass-4410");
  auto sentinel_setup = sentinel_options("sentinel", lines);
  sentinel_setup.password = "sentinel-pass-4410";
  test::redis_process sentinel(dir.path(), sentinel_setup);

  redis::client_options options;
  options.master_name = master_name;
  options.sentinels = {{"127.0.0.1", sentinel.port()}};
  options.sentinel_password = "sentinel-pass-4410";
  auto client = redis::client::start(options, {}, {});
  BOOST_REQUIRE(test::wait_connected(*client));
  BOOST_TEST(client->status().primary.address.port == primary.port());
  client->stop();

  options.sentinel_password = "wrong-pass-9921";
  auto refused = redis::client::start(options, {}, {});
  BOOST_REQUIRE(test::wait_until([&] { return !refused->status().last_error.empty(); }));
  const auto status = refused->status();
  BOOST_TEST(!status.connected);
  BOOST_TEST(status.last_error.find("AUTH refused (WRONGPASS)") != std::string::npos, status.last_error);
  BOOST_TEST(status.last_error.find("wrong-pass-9921") == std::string::npos);
  BOOST_TEST(status.last_error.find("sentinel-pass-4410") == std::string::npos);
  refused->stop();

  options.sentinel_password = "sentinel-pass-4410";
  options.master_name = "not-monitored";
  auto unknown = redis::client::start(options, {}, {});
  BOOST_REQUIRE(test::wait_until([&] { return !unknown->status().last_error.empty(); }));
  BOOST_TEST(unknown->status().last_error.find("does not monitor the configured master name") != std::string::npos,
             unknown->status().last_error);
  unknown->stop();
  BOOST_TEST(sentinel.stop() == 0);
  BOOST_TEST(primary.stop() == 0);
}

// The old primary stays up (a manual failover): nothing breaks the idle connection, so only the
// +switch-master subscription can move the client.
BOOST_AUTO_TEST_CASE(an_idle_client_follows_a_manual_failover_through_switch_master) {
  test::temp_directory dir;
  test::redis_process primary(dir.path(), {.name = "primary"});
  test::redis_process replica(dir.path(), {.name = "replica",
                                           .config_lines = {"replicaof 127.0.0.1 " + std::to_string(primary.port())}});
  BOOST_REQUIRE(test::wait_until([&] {
    return replica.command({"INFO", "replication"}).find("master_link_status:up") != std::string::npos;
  }));
  test::redis_process sentinel(dir.path(), sentinel_options("sentinel", sentinel_lines(primary.port(), 1)));
  BOOST_REQUIRE(test::wait_until([&] { return master_field_is(sentinel, "num-slaves", "1"); }, 20000ms));

  redis::client_options options;
  options.master_name = master_name;
  options.sentinels = {{"127.0.0.1", sentinel.port()}};
  auto client = redis::client::start(options, {}, {"cs:notices"});
  BOOST_REQUIRE(test::wait_connected(*client));
  BOOST_TEST(client->status().primary.address.port == primary.port());
  // Refused (NOGOODSLAVE) until the sentinel has read the replica's own INFO.
  BOOST_REQUIRE(test::wait_until([&] { return sentinel.command({"SENTINEL", "FAILOVER", master_name}) == "+OK\r\n"; },
                                 20000ms));
  BOOST_REQUIRE(test::wait_until([&] {
    const auto status = client->status();
    return status.connected && status.primary.address.port == replica.port();
  }, 10000ms));
  BOOST_TEST(client->status().primary.epoch == 2U);
  auto written = test::exec_wait(*client, {{"SET", "cs:after", "1"}});
  BOOST_REQUIRE(written);
  BOOST_TEST(written->at(0).is_status("OK"));
  // The subscriber followed too: it is subscribed on the new primary itself.
  BOOST_REQUIRE(test::wait_until([&] {
    return client->status().subscribed &&
           replica.command({"PUBSUB", "NUMSUB", "cs:notices"}).find(":1\r\n") != std::string::npos;
  }));
  client->stop();
  BOOST_TEST(sentinel.stop() == 0);
  BOOST_TEST(replica.stop() == 0);
  BOOST_TEST(primary.stop() == 0);
}

BOOST_AUTO_TEST_SUITE_END()
