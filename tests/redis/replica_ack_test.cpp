// client::exec_acknowledged against a real primary and replica: every call is answered after a
// WAIT that followed its commands (its writes are on the replica by then), concurrent calls share
// WAITs instead of sending one each, a replica that does not answer gives the WAIT's count of 0
// after its timeout, and a link that breaks while a call waits for its WAIT answers unavailable.
#include <boost/test/unit_test.hpp>

#include <signal.h>

#include <atomic>
#include <condition_variable>
#include <future>
#include <mutex>
#include <string>
#include <thread>

#include "redis_test_support.hpp"
#include "support/temp_directory.hpp"

using namespace callsign;
using redis::reply;

namespace {

// `calls=N` of one command in the primary's INFO commandstats (0 when never called).
long command_calls(const test::redis_process& server, const std::string& name) {
  const std::string stats = server.command({"INFO", "commandstats"});
  const auto at = stats.find("cmdstat_" + name + ":calls=");
  if (at == std::string::npos) return 0;
  return std::stol(stats.substr(at + name.size() + 15));
}

// SIGSTOP for a scope: SIGCONT on every way out, so that a failed check cannot leave the replica
// stopped (its destructor's SIGTERM would then wait for ever).
class stopped_process {
 public:
  explicit stopped_process(pid_t pid) : pid_(pid) { BOOST_REQUIRE(::kill(pid_, SIGSTOP) == 0); }
  ~stopped_process() { resume(); }
  stopped_process(const stopped_process&) = delete;
  stopped_process& operator=(const stopped_process&) = delete;
  void resume() {
    if (pid_ > 0) ::kill(pid_, SIGCONT);
    pid_ = 0;
  }

 private:
  pid_t pid_;
};

struct primary_and_replica {
  test::temp_directory dir;
  test::redis_process primary{dir.path(), {.name = "primary"}};
  test::redis_process replica{dir.path(), {.name = "replica",
                                           .config_lines = {"replicaof 127.0.0.1 " + std::to_string(primary.port())}}};
  primary_and_replica() {
    BOOST_REQUIRE(test::wait_until([&] {
      return replica.command({"INFO", "replication"}).find("master_link_status:up") != std::string::npos;
    }));
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(replica_ack_suite)

BOOST_FIXTURE_TEST_CASE(concurrent_acknowledged_writes_share_waits_and_are_on_the_replica_when_answered,
                        primary_and_replica) {
  constexpr int threads = 2;
  constexpr int per_thread = 200;
  std::mutex mutex;
  std::condition_variable changed;
  int answered = 0;
  int well_formed = 0;
  int on_replica = 0;
  // Declared after what its completions touch: on a failed check it stops (answering what is
  // still pending) before they are gone.
  auto client = redis::client::start(test::options_for(primary), {}, {});
  BOOST_REQUIRE(test::wait_connected(*client));
  BOOST_REQUIRE(test::exec_wait(*client, {{"CONFIG", "RESETSTAT"}}));
  std::vector<std::thread> senders;
  for (int t = 0; t < threads; ++t) {
    senders.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) {
        const std::string key = "ack:" + std::to_string(t) + ":" + std::to_string(i);
        client->exec_acknowledged({{"SET", key, "v"}}, {1, 2000}, [&, key](result<std::vector<reply>> answer) {
          // The WAIT covering this SET answered: the replica must have applied it already.
          const bool there = replica.command({"GET", key}).find("$1\r\nv") != std::string::npos;
          const bool shaped = answer && answer->size() == 2U && answer->front().text == "OK" &&
                              answer->back().type == reply::kind::integer && answer->back().integer == 1;
          std::lock_guard lock(mutex);
          ++answered;
          if (shaped) ++well_formed;
          if (there) ++on_replica;
          changed.notify_all();
        });
      }
    });
  }
  for (auto& sender : senders) sender.join();
  {
    std::unique_lock lock(mutex);
    BOOST_REQUIRE(changed.wait_for(lock, std::chrono::seconds(30), [&] { return answered == threads * per_thread; }));
  }
  BOOST_TEST(well_formed == threads * per_thread);
  BOOST_TEST(on_replica == threads * per_thread);
  // One WAIT per call would be 400; shared WAITs are far fewer (the first covers one call, each
  // next one every call that arrived while the one before was in flight).
  const long waits = command_calls(primary, "wait");
  BOOST_TEST_MESSAGE("WAIT commands for " << threads * per_thread << " acknowledged calls: " << waits);
  BOOST_TEST(waits >= 1);
  BOOST_TEST(waits <= threads * per_thread / 4);
  BOOST_TEST(command_calls(primary, "set") == threads * per_thread);
}

BOOST_FIXTURE_TEST_CASE(a_silent_replica_gives_zero_acknowledgements_after_the_timeout_and_reads_go_on,
                        primary_and_replica) {
  std::atomic<bool> done{false};
  std::atomic<long long> acks{-1};
  std::atomic<long long> waited_ms{0};
  std::promise<long long> again;
  auto later = again.get_future();
  auto client = redis::client::start(test::options_for(primary), {}, {});  // after its completions' state
  BOOST_REQUIRE(test::wait_connected(*client));
  stopped_process paused(replica.pid());
  const auto started = std::chrono::steady_clock::now();
  client->exec_acknowledged({{"SET", "ack:silent", "v"}}, {1, 400}, [&](result<std::vector<reply>> answer) {
    if (answer && answer->size() == 2U && answer->back().type == reply::kind::integer) acks = answer->back().integer;
    waited_ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count();
    done = true;
  });
  BOOST_REQUIRE(test::wait_until([&] { return done.load(); }, std::chrono::milliseconds(5000)));
  paused.resume();
  BOOST_TEST(acks.load() == 0);
  BOOST_TEST(waited_ms.load() >= 350);  // WAIT's own timeout, not an early answer
  // The link is fine afterwards, and an acknowledged write counts the replica again.
  BOOST_REQUIRE(test::wait_until([&] {
    return replica.command({"INFO", "replication"}).find("master_link_status:up") != std::string::npos;
  }));
  client->exec_acknowledged({{"SET", "ack:after", "v"}}, {1, 2000}, [&](result<std::vector<reply>> answer) {
    again.set_value(answer && answer->size() == 2U ? answer->back().integer : -1);
  });
  BOOST_REQUIRE(later.wait_for(std::chrono::seconds(10)) == std::future_status::ready);
  BOOST_TEST(later.get() == 1);
}

BOOST_FIXTURE_TEST_CASE(a_call_waiting_for_its_wait_answers_unavailable_when_the_link_breaks, primary_and_replica) {
  std::promise<result<std::vector<reply>>> outcome;
  auto answer = outcome.get_future();
  auto client = redis::client::start(test::options_for(primary), {}, {});  // after its completion's state
  BOOST_REQUIRE(test::wait_connected(*client));
  stopped_process paused(replica.pid());
  // The SET is answered at once; the call then waits for a WAIT of up to 20 s.
  client->exec_acknowledged({{"SET", "ack:broken", "v"}}, {1, 20000},
                            [&](result<std::vector<reply>> r) { outcome.set_value(std::move(r)); });
  BOOST_REQUIRE(test::wait_until([&] { return primary.command({"GET", "ack:broken"}).find("$1\r\nv") != std::string::npos; }));
  primary.command({"CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes"});
  const bool answered = answer.wait_for(std::chrono::seconds(10)) == std::future_status::ready;
  paused.resume();
  BOOST_REQUIRE(answered);
  auto got = answer.get();
  BOOST_REQUIRE(!got);
  BOOST_TEST((got.error().kind == error_kind::unavailable));
}

BOOST_AUTO_TEST_SUITE_END()
