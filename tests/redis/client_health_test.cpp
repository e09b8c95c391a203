// The primary link's health probe against a real redis-server: a server that may evict keys is
// refused at connect and dropped when its policy changes at run time; a full maxmemory under
// noeviction shows as refused writes (reads still answer) until there is room again.
#include <boost/test/unit_test.hpp>

#include <string>
#include <thread>

#include "redis_test_support.hpp"
#include "support/temp_directory.hpp"

using namespace callsign;
using namespace std::chrono_literals;

namespace {
redis::client_options probing(const test::redis_process& server) {
  auto options = test::options_for(server);
  options.health_interval = 100ms;
  options.write_probe_key = "cs:probe:test";
  return options;
}

std::string config_set(const test::redis_process& server, const std::string& name, const std::string& value) {
  return server.command({"CONFIG", "SET", name, value});
}
}  // namespace

BOOST_AUTO_TEST_SUITE(client_health_suite)

BOOST_AUTO_TEST_CASE(a_server_that_may_evict_keys_is_refused_at_connect) {
  test::temp_directory dir;
  test::redis_process server(dir.path(), {.config_lines = {"maxmemory 64mb", "maxmemory-policy volatile-lru"}});
  auto client = redis::client::start(probing(server), {}, {});
  BOOST_REQUIRE(test::wait_until([&] { return !client->status().last_error.empty(); }));
  const auto status = client->status();
  BOOST_TEST(!status.connected);
  BOOST_TEST(status.last_error.find("maxmemory-policy is volatile-lru; callsign needs noeviction") != std::string::npos,
             status.last_error);
  auto answer = test::exec_wait(*client, {{"SET", "cs:a", "1"}});
  BOOST_TEST(!answer);
  // Fixed on the server: the client connects on its next attempt.
  BOOST_TEST(config_set(server, "maxmemory-policy", "noeviction") == "+OK\r\n");
  BOOST_TEST(test::wait_connected(*client));
  client->stop();
  BOOST_TEST(server.stop() == 0);
}

BOOST_AUTO_TEST_CASE(a_policy_changed_at_run_time_ends_the_link_until_it_is_fixed) {
  test::temp_directory dir;
  test::redis_process server(dir.path());
  auto client = redis::client::start(probing(server), {}, {});
  BOOST_REQUIRE(test::wait_connected(*client));
  BOOST_TEST(config_set(server, "maxmemory-policy", "allkeys-lru") == "+OK\r\n");
  BOOST_REQUIRE(test::wait_until([&] { return !client->status().connected; }, 5000ms));
  BOOST_TEST(client->status().last_error.find("maxmemory-policy is allkeys-lru") != std::string::npos,
             client->status().last_error);
  auto answer = test::exec_wait(*client, {{"PING"}});
  BOOST_REQUIRE(!answer);
  BOOST_TEST((answer.error().kind == error_kind::unavailable));
  BOOST_TEST(config_set(server, "maxmemory-policy", "noeviction") == "+OK\r\n");
  BOOST_TEST(test::wait_connected(*client));
  client->stop();
  BOOST_TEST(server.stop() == 0);
}

BOOST_AUTO_TEST_CASE(a_full_maxmemory_shows_as_refused_writes_until_there_is_room) {
  test::temp_directory dir;
  test::redis_process server(dir.path());
  auto client = redis::client::start(probing(server), {}, {});
  BOOST_REQUIRE(test::wait_connected(*client));
  BOOST_REQUIRE(test::wait_until([&] {  // the probe writes its key
    auto probe = test::exec_wait(*client, {{"GET", "cs:probe:test"}});
    return probe && !probe->empty() && probe->front().text == "1";
  }));
  BOOST_TEST(client->status().writes_refused.empty());
  // 4 MB of data, then a limit of 1 MB: nothing may be evicted, so every write is refused.
  auto filled = test::exec_wait(*client, {{"SET", "cs:big", std::string(4 << 20, 'x')}});
  BOOST_REQUIRE(filled);
  BOOST_TEST(filled->front().is_status("OK"));
  BOOST_TEST(config_set(server, "maxmemory", "1mb") == "+OK\r\n");
  BOOST_REQUIRE(test::wait_until([&] { return !client->status().writes_refused.empty(); }, 5000ms));
  BOOST_TEST(client->status().writes_refused.find("out of memory") == 0, client->status().writes_refused);
  BOOST_TEST(client->status().connected);  // still the primary: reads answer
  auto refused = test::exec_wait(*client, {{"SET", "cs:b", "1"}, {"STRLEN", "cs:big"}});
  BOOST_REQUIRE(refused);
  BOOST_TEST(refused->at(0).is_error());
  BOOST_TEST(refused->at(0).text.rfind("OOM", 0) == 0, refused->at(0).text);
  BOOST_TEST(refused->at(1).integer == (4 << 20));  // not evicted
  BOOST_TEST(config_set(server, "maxmemory", "0") == "+OK\r\n");
  BOOST_TEST(test::wait_until([&] { return client->status().writes_refused.empty(); }, 5000ms));
  auto taken = test::exec_wait(*client, {{"SET", "cs:b", "1"}});
  BOOST_REQUIRE(taken);
  BOOST_TEST(taken->front().is_status("OK"));
  client->stop();
  BOOST_TEST(server.stop() == 0);
}

BOOST_AUTO_TEST_CASE(the_probe_counts_for_no_round_trip) {
  // round_trips() counts the callers' execs (per-route counts, the bench's round trips per
  // verify); the client's own probe must not show in them.
  test::temp_directory dir;
  test::redis_process server(dir.path());
  auto options = probing(server);
  options.health_interval = 10ms;
  auto client = redis::client::start(options, {}, {});
  BOOST_REQUIRE(test::wait_connected(*client));
  std::this_thread::sleep_for(300ms);  // about 30 probes
  BOOST_TEST(client->round_trips() == 0U);
  BOOST_REQUIRE(test::exec_wait(*client, {{"PING"}}));
  BOOST_TEST(client->round_trips() == 1U);
  client->stop();
  BOOST_TEST(server.stop() == 0);
}

BOOST_AUTO_TEST_SUITE_END()
