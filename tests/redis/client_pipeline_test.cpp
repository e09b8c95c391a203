// The primary connection carries many execs at once and answers each with its own replies, in
// order; arguments are binary-safe; error replies are values.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <thread>

#include "redis_test_support.hpp"
#include "storage/round_trip_tally.hpp"
#include "support/temp_directory.hpp"

using namespace callsign;
using redis::reply;

BOOST_AUTO_TEST_SUITE(client_pipeline_suite)

BOOST_AUTO_TEST_CASE(a_thousand_execs_from_four_threads_each_get_their_own_replies) {
  test::temp_directory dir;
  test::redis_process server(dir.path());
  auto client = redis::client::start(test::options_for(server), {}, {});
  BOOST_REQUIRE(test::wait_connected(*client));
  const auto round_trips_before = client->round_trips();

  constexpr int threads = 4;
  constexpr int per_thread = 250;
  const std::string nonce = std::to_string(std::random_device{}());
  struct outcome {
    std::optional<result<std::vector<reply>>> answer;
    std::thread::id answered_on;
  };
  std::vector<outcome> outcomes(threads * per_thread);
  std::mutex mutex;
  std::condition_variable changed;
  int answered = 0;
  std::vector<std::thread> senders;
  for (int t = 0; t < threads; ++t) {
    senders.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) {
        const std::string value = nonce + "/" + std::to_string(t) + "/" + std::to_string(i);
        client->exec({{"INCR", "counter:" + std::to_string(t)}, {"ECHO", value}},
                     [&, slot = t * per_thread + i](result<std::vector<reply>> answer) {
                       std::lock_guard lock(mutex);
                       outcomes[static_cast<std::size_t>(slot)] = {std::move(answer), std::this_thread::get_id()};
                       ++answered;
                       changed.notify_all();
                     });
      }
    });
  }
  for (auto& sender : senders) sender.join();
  std::unique_lock lock(mutex);
  BOOST_REQUIRE(changed.wait_for(lock, std::chrono::seconds(30), [&] { return answered == threads * per_thread; }));
  for (int t = 0; t < threads; ++t) {
    for (int i = 0; i < per_thread; ++i) {
      const auto& [answer, on] = outcomes[static_cast<std::size_t>(t * per_thread + i)];
      BOOST_REQUIRE(answer && answer->has_value());
      const auto& replies = answer->value();
      BOOST_REQUIRE_EQUAL(replies.size(), 2U);
      // One thread's INCRs were submitted in order, so its counter shows each exec's place.
      BOOST_TEST(replies[0].integer == i + 1);
      BOOST_TEST(replies[1].text == nonce + "/" + std::to_string(t) + "/" + std::to_string(i));
      BOOST_TEST((on != std::this_thread::get_id()));
    }
  }
  lock.unlock();
  BOOST_TEST(client->round_trips() - round_trips_before == static_cast<std::uint64_t>(threads * per_thread));
  client->stop();
  BOOST_TEST(server.stop() == 0);
}

BOOST_AUTO_TEST_CASE(arguments_are_binary_safe_up_to_a_megabyte) {
  test::temp_directory dir;
  test::redis_process server(dir.path());
  auto client = redis::client::start(test::options_for(server), {}, {});
  BOOST_REQUIRE(test::wait_connected(*client));
  const std::string key("cs:\0\r\n*1\r\n$", 11);
  std::string big(1 << 20, '\0');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>((i * 131) % 256);
  auto answer = test::exec_wait(*client, {{"SET", key, big}, {"GET", key}, {"STRLEN", key}, {"GET", "cs:missing"}});
  BOOST_REQUIRE(answer);
  BOOST_TEST(answer->at(0).is_status("OK"));
  BOOST_TEST((answer->at(1).type == reply::kind::string));
  BOOST_TEST((answer->at(1).text == big));
  BOOST_TEST(answer->at(2).integer == 1 << 20);
  BOOST_TEST(answer->at(3).is_nil());
  client->stop();
  BOOST_TEST(server.stop() == 0);
}

BOOST_AUTO_TEST_CASE(error_replies_are_values_and_the_connection_stays) {
  test::temp_directory dir;
  test::redis_process server(dir.path());
  auto client = redis::client::start(test::options_for(server), {}, {});
  BOOST_REQUIRE(test::wait_connected(*client));
  auto answer = test::exec_wait(*client, {{"SET", "cs:text", "x"}, {"INCR", "cs:text"}, {"NO-SUCH-COMMAND"},
                                          {"RPUSH", "cs:list", "a", "b"}, {"LRANGE", "cs:list", "0", "-1"}});
  BOOST_REQUIRE(answer);
  BOOST_TEST(answer->at(1).is_error());
  BOOST_TEST(answer->at(1).text.rfind("ERR", 0) == 0);
  BOOST_TEST(answer->at(2).is_error());
  BOOST_TEST(answer->at(3).integer == 2);
  BOOST_REQUIRE_EQUAL(answer->at(4).elements.size(), 2U);
  BOOST_TEST(answer->at(4).elements[1].text == "b");
  BOOST_TEST(client->status().connected);
  BOOST_TEST(client->status().reconnects == 0U);
  auto empty = test::exec_wait(*client, {});
  BOOST_REQUIRE(empty);
  BOOST_TEST(empty->empty());
  client->stop();
  BOOST_TEST(server.stop() == 0);
}

BOOST_AUTO_TEST_CASE(send_is_fire_and_forget_and_keeps_the_order) {
  test::temp_directory dir;
  test::redis_process server(dir.path());
  auto client = redis::client::start(test::options_for(server), {}, {});
  BOOST_REQUIRE(test::wait_connected(*client));
  const auto before = client->round_trips();
  client->send({"SET", "cs:sent", "1"});
  auto answer = test::exec_wait(*client, {{"GET", "cs:sent"}});
  BOOST_REQUIRE(answer);
  BOOST_TEST(answer->at(0).text == "1");
  BOOST_TEST(client->round_trips() - before == 1U);
  client->stop();
  BOOST_TEST(server.stop() == 0);
}

// Round trips per request (storage/round_trip_tally.hpp): an exec inside a scope counts for its
// tally, and so does the exec its completion makes on the client's thread; exec_acknowledged
// counts once; send and execs outside any scope count for nobody.
BOOST_AUTO_TEST_CASE(execs_count_for_the_scope_they_were_made_in_and_their_continuations_too) {
  test::temp_directory dir;
  test::redis_process server(dir.path());
  auto client = redis::client::start(test::options_for(server), {}, {});
  BOOST_REQUIRE(test::wait_connected(*client));
  auto tally = std::make_shared<std::atomic<std::uint64_t>>(0);
  auto other = std::make_shared<std::atomic<std::uint64_t>>(0);

  std::mutex mutex;
  std::condition_variable changed;
  bool finished = false;
  bool scope_in_completion = false;
  {
    storage::round_trip_scope counting(tally);
    client->send({"SET", "cs:sent", "1"});  // not a round trip
    client->exec({{"INCR", "cs:n"}}, [&](result<std::vector<reply>>) {
      // The continuation runs on the client's thread, inside the caller's scope.
      scope_in_completion = storage::current_round_trip_tally() == tally;
      client->exec_acknowledged({{"INCR", "cs:n"}}, {1, 10}, [&](result<std::vector<reply>>) {
        std::lock_guard lock(mutex);
        finished = true;
        changed.notify_all();
      });
    });
    {
      storage::round_trip_scope nested(other);
      BOOST_REQUIRE(test::exec_wait(*client, {{"PING"}}));
    }
    BOOST_TEST((storage::current_round_trip_tally() == tally));  // restored after the nested one
  }
  BOOST_TEST(!storage::current_round_trip_tally());
  {
    std::unique_lock lock(mutex);
    BOOST_REQUIRE(changed.wait_for(lock, std::chrono::seconds(10), [&] { return finished; }));
  }
  BOOST_TEST(scope_in_completion);
  BOOST_TEST(tally->load() == 2U);  // the INCR, then the continuation's acknowledged INCR (its WAIT in it)
  BOOST_TEST(other->load() == 1U);
  BOOST_REQUIRE(test::exec_wait(*client, {{"PING"}}));  // outside any scope
  BOOST_TEST(tally->load() == 2U);
  client->stop();
  BOOST_TEST(server.stop() == 0);
}

// Every answered exec's wait goes into the latency histogram, a timed-out one's too; a send
// does not.
BOOST_AUTO_TEST_CASE(every_answered_exec_is_in_the_latency_histogram) {
  test::temp_directory dir;
  test::redis_process server(dir.path());
  auto options = test::options_for(server);
  options.command_timeout = std::chrono::milliseconds(300);
  auto client = redis::client::start(options, {}, {});
  BOOST_REQUIRE(test::wait_connected(*client));
  const auto before = client->round_trip_latency();
  for (int i = 0; i < 5; ++i) BOOST_REQUIRE(test::exec_wait(*client, {{"PING"}}));
  client->send({"PING"});
  auto quick = client->round_trip_latency();
  BOOST_TEST(quick.count - before.count == 5U);
  BOOST_TEST(quick.sum_seconds > before.sum_seconds);
  BOOST_TEST(quick.at_most.back() - before.at_most.back() == 5U);  // each within a second

  server.pause();  // the next exec waits for the command timeout
  BOOST_TEST(!test::exec_wait(*client, {{"PING"}}));
  server.resume();
  auto slow = client->round_trip_latency();
  BOOST_TEST(slow.count - quick.count == 1U);
  BOOST_TEST(slow.sum_seconds - quick.sum_seconds >= 0.25);
  const auto& bounds = redis::latency_histogram::bounds_seconds;
  const auto at_100ms = static_cast<std::size_t>(std::find(bounds.begin(), bounds.end(), 0.1) - bounds.begin());
  BOOST_TEST(slow.at_most[at_100ms] == quick.at_most[at_100ms]);  // not within 0.1 s
  client->stop();
  BOOST_TEST(server.stop() == 0);
}

BOOST_AUTO_TEST_SUITE_END()
