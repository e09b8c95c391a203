// The test helper itself (support/redis_process.hpp): a server starts on a free port, answers,
// restarts on the same port as a new process, pauses, and stops with exit status 0; a replica
// and a sentinel start from config lines.
#include <boost/test/unit_test.hpp>

#include <signal.h>

#include "support/redis_process.hpp"
#include "support/temp_directory.hpp"

using namespace callsign;

namespace {
std::string run_id(const test::redis_process& server) {
  const std::string info = server.command({"INFO", "server"});
  const auto at = info.find("run_id:");
  BOOST_REQUIRE(at != std::string::npos);
  return info.substr(at + 7, 40);
}
}  // namespace

BOOST_AUTO_TEST_SUITE(redis_process_suite)

BOOST_AUTO_TEST_CASE(starts_answers_restarts_and_stops_cleanly) {
  test::temp_directory dir;
  test::redis_process server(dir.path());
  BOOST_TEST(server.port() != 0);
  BOOST_TEST(server.command({"SET", "k", std::string("a\0b", 3)}) == "+OK\r\n");
  BOOST_TEST(server.command({"GET", "k"}) == std::string("$3\r\na\0b\r\n", 9));
  const auto port = server.port();
  const auto first = run_id(server);
  BOOST_TEST(server.stop() == 0);
  BOOST_TEST(!server.running());
  BOOST_CHECK_THROW(server.command({"PING"}), std::runtime_error);
  server.start();
  BOOST_TEST(server.port() == port);
  BOOST_TEST(run_id(server) != first);
  BOOST_TEST(server.stop() == 0);
}

BOOST_AUTO_TEST_CASE(paused_server_does_not_answer_until_resumed) {
  test::temp_directory dir;
  test::redis_process server(dir.path());
  server.pause();
  BOOST_CHECK_THROW(server.command({"PING"}, std::chrono::milliseconds(300)), std::runtime_error);
  server.resume();
  BOOST_TEST(server.command({"PING"}) == "+PONG\r\n");
  BOOST_TEST(server.stop() == 0);
}

BOOST_AUTO_TEST_CASE(killed_server_reports_the_signal_and_a_password_is_used) {
  test::temp_directory dir;
  test::redis_process server(dir.path(), {.config_lines = {"requirepass s3cret"}, .password = "s3cret"});
  BOOST_TEST(server.command({"PING"}) == "+PONG\r\n");
  BOOST_TEST(test::redis_process::exchange(server.port(), {{"PING"}}, std::chrono::milliseconds(2000))
                 .rfind("-NOAUTH", 0) == 0);
  server.kill();
  BOOST_TEST(!server.running());
  BOOST_TEST(server.stop() == -1);
}

BOOST_AUTO_TEST_CASE(replica_and_sentinel_start_from_config_lines) {
  test::temp_directory dir;
  test::redis_process primary(dir.path(), {.name = "primary"});
  const auto at = std::to_string(primary.port());
  test::redis_process replica(dir.path(), {.name = "replica", .config_lines = {"replicaof 127.0.0.1 " + at}});
  BOOST_TEST(replica.command({"ROLE"}).find("slave") != std::string::npos);
  test::redis_process sentinel(dir.path(), {.binary = "/usr/bin/redis-sentinel", .name = "sentinel",
                                            .config_lines = {"sentinel resolve-hostnames no",
                                                             "sentinel monitor m 127.0.0.1 " + at + " 1"},
                                            .no_persistence = false});
  BOOST_TEST(sentinel.command({"SENTINEL", "get-master-addr-by-name", "m"}).find(at) != std::string::npos);
  BOOST_TEST(sentinel.stop() == 0);
  BOOST_TEST(replica.stop() == 0);
  BOOST_TEST(primary.stop() == 0);
}

BOOST_AUTO_TEST_CASE(a_bad_config_fails_with_the_log) {
  test::temp_directory dir;
  try {
    test::redis_process server(dir.path(), {.config_lines = {"no-such-directive yes"}});
    BOOST_FAIL("started with a bad config");
  } catch (const std::runtime_error& failure) {
    BOOST_TEST(std::string(failure.what()).find("no-such-directive") != std::string::npos);
  }
}

BOOST_AUTO_TEST_SUITE_END()
