// The primary connection's life: AUTH with an ACL user, fail fast while down, reconnect after a
// restart (a new epoch), the command timeout on a paused server, setup commands first on every
// connection, a server that stops being a primary, and stop().
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "redis_test_support.hpp"
#include "support/temp_directory.hpp"

using namespace callsign;
using namespace std::chrono_literals;
using redis::reply;

namespace {
const std::vector<std::string> acl_lines = {"user default off", "user app on >app-pass-7781 ~cs:* +@all"};
}

BOOST_AUTO_TEST_SUITE(client_connection_suite)

BOOST_AUTO_TEST_CASE(an_acl_user_authenticates_and_is_held_to_its_keys) {
  test::temp_directory dir;
  test::redis_process server(dir.path(), {.config_lines = acl_lines, .username = "app", .password = "app-pass-7781"});
  auto options = test::options_for(server);
  options.username = "app";
  options.password = "app-pass-7781";
  auto client = redis::client::start(options, {}, {});
  BOOST_REQUIRE(test::wait_connected(*client));
  auto answer = test::exec_wait(*client, {{"SET", "cs:a", "1"}, {"SET", "other", "1"}, {"ACL", "WHOAMI"}});
  BOOST_REQUIRE(answer);
  BOOST_TEST(answer->at(0).is_status("OK"));
  BOOST_TEST(answer->at(1).is_error());
  BOOST_TEST(answer->at(1).text.rfind("NOPERM", 0) == 0);
  BOOST_TEST(answer->at(2).text == "app");
  client->stop();
  BOOST_TEST(server.stop() == 0);
}

BOOST_AUTO_TEST_CASE(a_wrong_password_fails_clearly_without_showing_it) {
  test::temp_directory dir;
  test::redis_process server(dir.path(), {.config_lines = acl_lines, .username = "app", .password = "app-pass-7781"});
  auto options = test::options_for(server);
  options.username = "app";
  options.password = "wrong-pass-5512";
  auto client = redis::client::start(options, {}, {});
  BOOST_REQUIRE(test::wait_until([&] { return !client->status().last_error.empty(); }));
  const auto status = client->status();
  BOOST_TEST(!status.connected);
  BOOST_TEST(status.last_error.find("AUTH refused (WRONGPASS)") != std::string::npos, status.last_error);
  BOOST_TEST(status.last_error.find("wrong-pass-5512") == std::string::npos);
  BOOST_TEST(status.last_error.find("app-pass-7781") == std::string::npos);
  auto answer = test::exec_wait(*client, {{"PING"}});
  BOOST_REQUIRE(!answer);
  BOOST_TEST((answer.error().kind == error_kind::unavailable));
  BOOST_TEST(answer.error().message.find("wrong-pass") == std::string::npos);
  client->stop();
  BOOST_TEST(server.stop() == 0);
}

BOOST_AUTO_TEST_CASE(a_user_without_info_is_refused_clearly) {
  test::temp_directory dir;
  test::redis_process server(dir.path(), {.config_lines = {"user default off", "user app on >app-pass-7781 ~cs:* +@all -info"},
                                          .username = "app", .password = "app-pass-7781"});
  auto options = test::options_for(server);
  options.username = "app";
  options.password = "app-pass-7781";
  auto client = redis::client::start(options, {}, {});
  BOOST_REQUIRE(test::wait_until([&] { return !client->status().last_error.empty(); }));
  BOOST_TEST(client->status().last_error.find("INFO server refused (NOPERM)") != std::string::npos,
             client->status().last_error);
  BOOST_TEST(!client->status().connected);
  client->stop();
  BOOST_TEST(server.stop() == 0);
}

BOOST_AUTO_TEST_CASE(fails_fast_while_down_and_follows_a_restart_to_a_new_epoch) {
  test::temp_directory dir;
  test::redis_process server(dir.path());
  auto options = test::options_for(server);
  options.command_timeout = 5000ms;  // a queued exec would wait this long; a fast failure does not
  std::atomic<int> changes{0};
  redis::client_callbacks callbacks;
  callbacks.status_changed = [&](const redis::client_status&) { ++changes; };
  auto client = redis::client::start(options, callbacks, {});
  BOOST_REQUIRE(test::wait_connected(*client));
  const auto first = client->status().primary;
  BOOST_TEST(first.epoch == 1U);
  BOOST_TEST(first.run_id.size() == 40U);
  BOOST_TEST(first.address.port == server.port());

  BOOST_TEST(server.stop() == 0);
  BOOST_REQUIRE(test::wait_until([&] { return !client->status().connected; }));
  const auto asked = std::chrono::steady_clock::now();
  auto down = test::exec_wait(*client, {{"INCR", "cs:sent-while-down"}}, 3000ms);
  BOOST_REQUIRE(!down);
  BOOST_TEST((down.error().kind == error_kind::unavailable), down.error().message);
  BOOST_TEST((std::chrono::steady_clock::now() - asked < 1000ms));  // well under command_timeout
  BOOST_TEST(!client->status().last_error.empty());

  server.start();
  BOOST_REQUIRE(test::wait_connected(*client));
  const auto second = client->status();
  BOOST_TEST(second.primary.epoch == 2U);
  BOOST_TEST(second.primary.run_id != first.run_id);
  BOOST_TEST(second.reconnects == 1U);
  BOOST_TEST(second.last_error.empty());
  BOOST_TEST(changes.load() >= 3);
  auto up = test::exec_wait(*client, {{"PING"}, {"GET", "cs:sent-while-down"}});
  BOOST_REQUIRE(up);
  BOOST_TEST(up->at(0).is_status("PONG"));
  BOOST_TEST(up->at(1).is_nil());  // never queued: the restarted (empty) server never got the INCR
  client->stop();
  BOOST_TEST(server.stop() == 0);
}

namespace {
// A connected client with a short command timeout, on a Redis server of its own.
struct timed_client {
  explicit timed_client(std::chrono::milliseconds timeout) : server(dir.path()) {
    auto options = test::options_for(server);
    options.command_timeout = timeout;
    client = redis::client::start(options, {}, {});
    BOOST_REQUIRE(test::wait_connected(*client));
  }
  test::temp_directory dir;
  test::redis_process server;
  std::unique_ptr<redis::client> client;
};
}  // namespace

BOOST_AUTO_TEST_CASE(a_paused_server_times_out_then_recovers_in_the_same_epoch) {
  timed_client connected(500ms);
  auto& server = connected.server;
  auto& client = connected.client;
  server.pause();
  const auto asked = std::chrono::steady_clock::now();
  auto answer = test::exec_wait(*client, {{"PING"}});
  const auto waited = std::chrono::steady_clock::now() - asked;
  BOOST_REQUIRE(!answer);
  BOOST_TEST((answer.error().kind == error_kind::unavailable));
  BOOST_TEST(answer.error().message.find("command timeout") != std::string::npos, answer.error().message);
  BOOST_TEST((waited >= 450ms));
  BOOST_TEST((waited < 2500ms));
  BOOST_TEST(!client->status().connected);
  server.resume();
  BOOST_REQUIRE(test::wait_connected(*client));
  BOOST_TEST(client->status().primary.epoch == 1U);  // the same process: the same run_id
  auto again = test::exec_wait(*client, {{"PING"}});
  BOOST_REQUIRE(again);
  client->stop();
  BOOST_TEST(server.stop() == 0);
}

BOOST_AUTO_TEST_CASE(every_request_in_flight_on_a_timed_out_connection_fails_and_none_is_retried) {
  // Three execs pipelined to a paused server: the first one's timeout resets the connection, and
  // all three fail. None is sent again on the next connection: a retried verify could count
  // twice. The INCR ran at most once (the paused server may still have read it).
  timed_client connected(500ms);
  auto& server = connected.server;
  auto& client = connected.client;
  server.pause();
  std::vector<std::future<result<std::vector<redis::reply>>>> answers;
  for (auto commands : std::vector<std::vector<redis::command>>{{{"INCR", "cs:in-flight"}}, {{"PING"}}, {{"PING"}}}) {
    answers.push_back(test::exec_async(*client, std::move(commands)));
  }
  for (auto& answer : answers) {
    BOOST_REQUIRE((answer.wait_for(5000ms) == std::future_status::ready));
    auto got = answer.get();
    BOOST_TEST_REQUIRE(!got.has_value());
    BOOST_TEST((got.error().kind == error_kind::unavailable), got.error().message);
  }
  server.resume();
  BOOST_REQUIRE(test::wait_connected(*client));
  std::this_thread::sleep_for(200ms);  // anything the client would resend has gone by now
  auto counted = test::exec_wait(*client, {{"GET", "cs:in-flight"}});
  BOOST_REQUIRE(counted);
  const auto& value = counted->at(0);
  BOOST_TEST((value.is_nil() || value.text == "1"), "the INCR ran more than once: " << value.text);
  client->stop();
  BOOST_TEST(server.stop() == 0);
}

BOOST_AUTO_TEST_CASE(an_idle_connection_notices_a_paused_server) {
  timed_client connected(300ms);
  auto& server = connected.server;
  auto& client = connected.client;
  server.pause();
  // No exec: only the idle PING can find out (within about two command timeouts).
  const auto paused = std::chrono::steady_clock::now();
  BOOST_REQUIRE(test::wait_until([&] { return !client->status().connected; }, 3000ms));
  BOOST_TEST((std::chrono::steady_clock::now() - paused < 1500ms));
  const auto why = client->status().last_error;  // the timeout, or already a reconnect's timeout
  BOOST_TEST((why.find("command timeout") != std::string::npos || why.find("timed out") != std::string::npos), why);
  server.resume();
  BOOST_REQUIRE(test::wait_connected(*client));
  client->stop();
  BOOST_TEST(server.stop() == 0);
}

BOOST_AUTO_TEST_CASE(setup_commands_run_first_on_every_new_connection) {
  test::temp_directory dir;
  test::redis_process server(dir.path());
  std::mutex mutex;
  std::vector<std::vector<reply>> connected_with;
  std::vector<std::uint64_t> setup_epochs;
  redis::client_callbacks callbacks;
  callbacks.setup_commands = [&](const redis::primary_info& info) {
    std::lock_guard lock(mutex);
    setup_epochs.push_back(info.epoch);
    return std::vector<redis::command>{{"CLIENT", "SETNAME", "set-up"}, {"INCR", "cs:setups"}};
  };
  callbacks.connected = [&](const redis::primary_info&, const std::vector<reply>& replies) {
    std::lock_guard lock(mutex);
    connected_with.push_back(replies);
  };
  auto client = redis::client::start(test::options_for(server), callbacks, {});
  // Execs race the connection from the start: every one that is answered saw the setup done.
  std::atomic<bool> running{true};
  std::atomic<int> answered{0};
  std::atomic<int> before_setup{0};
  std::thread asker([&] {
    while (running) {
      auto answer = test::exec_wait(*client, {{"CLIENT", "GETNAME"}});
      if (answer) {
        ++answered;
        if (answer->at(0).text != "set-up") ++before_setup;
      }
    }
  });
  BOOST_REQUIRE(test::wait_until([&] { return answered.load() > 10; }));
  BOOST_TEST(server.stop() == 0);
  server.start();
  const int at_restart = answered.load();
  BOOST_REQUIRE(test::wait_until([&] { return answered.load() > at_restart + 10; }));
  running = false;
  asker.join();
  BOOST_TEST(before_setup.load() == 0);
  std::lock_guard lock(mutex);
  BOOST_REQUIRE_EQUAL(connected_with.size(), 2U);
  BOOST_TEST(connected_with[1].at(0).is_status("OK"));
  BOOST_TEST(connected_with[1].at(1).integer == 1);  // a fresh server: its first setup
  BOOST_TEST((setup_epochs == std::vector<std::uint64_t>{1, 2}));
  client->stop();
  BOOST_TEST(server.stop() == 0);
}

BOOST_AUTO_TEST_CASE(a_readonly_reply_is_a_value_and_the_replica_is_left) {
  test::temp_directory dir;
  test::redis_process server(dir.path(), {.name = "a"});
  test::redis_process other(dir.path(), {.name = "b"});
  auto client = redis::client::start(test::options_for(server), {}, {});
  BOOST_REQUIRE(test::wait_connected(*client));
  BOOST_TEST(server.command({"REPLICAOF", "127.0.0.1", std::to_string(other.port())}) == "+OK\r\n");
  auto answer = test::exec_wait(*client, {{"SET", "cs:x", "1"}});
  BOOST_REQUIRE(answer);
  BOOST_TEST(answer->at(0).text.rfind("READONLY", 0) == 0);
  BOOST_REQUIRE(test::wait_until([&] {
    return client->status().last_error.find("not a primary (ROLE says slave)") != std::string::npos;
  }));
  BOOST_TEST(!client->status().connected);
  BOOST_TEST(server.command({"REPLICAOF", "NO", "ONE"}) == "+OK\r\n");
  BOOST_REQUIRE(test::wait_connected(*client));
  BOOST_TEST(test::exec_wait(*client, {{"SET", "cs:x", "2"}}).has_value());
  client->stop();
  BOOST_TEST(other.stop() == 0);
  BOOST_TEST(server.stop() == 0);
}

BOOST_AUTO_TEST_CASE(stop_answers_what_is_pending_and_later_calls) {
  test::temp_directory dir;
  test::redis_process server(dir.path());
  auto options = test::options_for(server);
  options.command_timeout = 10000ms;
  auto client = redis::client::start(options, {}, {});
  BOOST_REQUIRE(test::wait_connected(*client));
  server.pause();
  std::promise<result<std::vector<reply>>> pending;
  client->exec({{"PING"}}, [&](result<std::vector<reply>> answer) { pending.set_value(std::move(answer)); });
  const auto asked = std::chrono::steady_clock::now();
  client->stop();
  client->stop();  // idempotent
  BOOST_TEST(!client->status().connected);
  auto answer = pending.get_future().get();
  BOOST_TEST((std::chrono::steady_clock::now() - asked < 5000ms));  // not the 10 s timeout
  BOOST_REQUIRE(!answer);
  BOOST_TEST((answer.error().kind == error_kind::unavailable));
  auto after = test::exec_wait(*client, {{"PING"}});
  BOOST_REQUIRE(!after);
  BOOST_TEST((after.error().kind == error_kind::unavailable));
  server.resume();
  BOOST_TEST(server.stop() == 0);
}

BOOST_AUTO_TEST_CASE(a_name_that_does_not_resolve_is_reported_and_execs_fail_fast) {
  // RFC 6761: .invalid never resolves. The client keeps retrying with backoff; meanwhile every
  // exec is answered at once, and the status says why.
  redis::client_options options;
  options.address = {"callsign-redis.invalid", 6379};
  options.reconnect_min = 20ms;
  options.reconnect_max = 200ms;
  auto client = redis::client::start(options, {}, {});
  BOOST_REQUIRE(test::wait_until([&] { return !client->status().last_error.empty(); }, 30000ms));
  const auto status = client->status();
  BOOST_TEST(!status.connected);
  BOOST_TEST(status.last_error.find("redis callsign-redis.invalid:6379: cannot resolve") == 0, status.last_error);
  const auto asked = std::chrono::steady_clock::now();
  auto answer = test::exec_wait(*client, {{"PING"}});
  BOOST_REQUIRE(!answer);
  BOOST_TEST((answer.error().kind == error_kind::unavailable));
  BOOST_TEST((std::chrono::steady_clock::now() - asked < 1s));
  client->stop();
}

BOOST_AUTO_TEST_CASE(a_rotated_password_file_is_read_at_the_next_connection) {
  // The rotation docs/cluster.md describes: the new password added, the file replaced, the old
  // password removed. Connections already up stay; the next one authenticates with the file's
  // new content. An unreadable file fails the attempt and says which file, never its content.
  test::temp_directory dir;
  test::redis_process server(dir.path(), {.config_lines = {"user default on >admin-pw-3301 ~* &* +@all",
                                                           "user app on >old-pass-4410 ~cs:* &cs:* +@all"},
                                          .password = "admin-pw-3301"});
  const auto file = dir.path() / "redis.password";
  auto write_file = [&](const std::string& text) {
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out << text;
  };
  write_file("old-pass-4410\n");
  auto options = test::options_for(server);
  options.username = "app";
  options.password = "old-pass-4410";  // what callsignd read at start; the file wins
  options.password_file = file.string();
  auto client = redis::client::start(options, {}, {"cs:events"});
  BOOST_REQUIRE(test::wait_until([&] { return client->status().connected && client->status().subscribed; }));
  BOOST_TEST(server.command({"ACL", "SETUSER", "app", ">new-pass-5520"}) == "+OK\r\n");
  write_file("new-pass-5520\n");
  BOOST_TEST(server.command({"ACL", "SETUSER", "app", "<old-pass-4410"}) == "+OK\r\n");
  auto still = test::exec_wait(*client, {{"SET", "cs:a", "1"}});
  BOOST_REQUIRE(still);
  BOOST_TEST(still->front().is_status("OK"));  // the connection made with the old password stays
  const auto epoch = client->status().primary.epoch;
  BOOST_TEST(server.command({"CLIENT", "KILL", "USER", "app"}).rfind(":", 0) == 0);
  BOOST_REQUIRE(test::wait_until([&] {
    const auto status = client->status();
    return status.connected && status.subscribed && status.reconnects >= 1;
  }));
  BOOST_TEST(client->status().primary.epoch == epoch);  // the same server
  auto answer = test::exec_wait(*client, {{"ACL", "WHOAMI"}});
  BOOST_REQUIRE(answer);
  BOOST_TEST(answer->front().text == "app");

  std::filesystem::remove(file);
  BOOST_TEST(server.command({"CLIENT", "KILL", "USER", "app"}).rfind(":", 0) == 0);
  BOOST_REQUIRE(test::wait_until([&] {
    return client->status().last_error.find("cannot read the password file") != std::string::npos;
  }));
  const auto status = client->status();
  BOOST_TEST(!status.connected);
  BOOST_TEST(status.last_error.find("-pass-") == std::string::npos, status.last_error);
  write_file("new-pass-5520");
  BOOST_TEST(test::wait_connected(*client));
  client->stop();
  BOOST_TEST(server.stop() == 0);
}

BOOST_AUTO_TEST_SUITE_END()
