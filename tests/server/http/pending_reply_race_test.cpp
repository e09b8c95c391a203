// pending_reply (server/http/router.hpp) under contention: resumes from several threads race the
// waiter's take_or_wake, or its abandon. server_tests checks the outcomes; ./tools/tsan runs the
// same cases under ThreadSanitizer, which reports the race if the slot's lock is missing.
#include <atomic>
#include <boost/test/unit_test.hpp>
#include <functional>
#include <latch>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "router_test_support.hpp"
#include "server/http/router.hpp"

using namespace callsign::server;
using callsign::server::test_support::text_response;

namespace {

constexpr int resumers = 4;
constexpr int rounds = 200;

// A slot whose resume the test holds, as a backend would.
struct held_slot {
  std::function<void(handler_result)> resume;
  std::shared_ptr<pending_reply> slot =
      pending_reply::start(async_response{[this](std::function<void(handler_result)> r) { resume = std::move(r); }});
};

// Starts `resumers` threads that each resume `held` with their own number once `go` opens.
std::vector<std::thread> resume_from_threads(held_slot& held, std::latch& go) {
  std::vector<std::thread> threads;
  for (int i = 0; i < resumers; ++i) {
    threads.emplace_back([&held, &go, i] {
      go.arrive_and_wait();
      held.resume(text_response(std::to_string(i)));
    });
  }
  return threads;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(pending_reply_race)

BOOST_AUTO_TEST_CASE(resumes_from_many_threads_give_the_waiter_one_reply_and_at_most_one_wake) {
  int ready_at_once = 0;
  for (int round = 0; round < rounds; ++round) {
    held_slot held;
    std::atomic<int> wakes{0};
    std::latch go(resumers + 1);
    auto threads = resume_from_threads(held, go);
    go.arrive_and_wait();
    auto first = held.slot->take_or_wake([&wakes] { wakes.fetch_add(1); });
    for (auto& t : threads) t.join();
    std::optional<route_outcome> reply = std::move(first);
    if (reply) {
      ++ready_at_once;
      BOOST_TEST(wakes.load() == 0);  // a resume before the wait needs no wake
    } else {
      BOOST_TEST(wakes.load() == 1);  // the first resume after the wait wakes it; the rest are ignored
      reply = held.slot->take_or_wake([&wakes] { wakes.fetch_add(1); });
    }
    BOOST_TEST_REQUIRE(reply.has_value());
    const auto& body = std::get<http_response>(*reply).body;
    BOOST_TEST((body.size() == 1 && body[0] >= '0' && body[0] < '0' + resumers), body);
    BOOST_TEST(!held.slot->take_or_wake([] {}).has_value());  // taken once
  }
  BOOST_TEST_MESSAGE("replies ready at the first take_or_wake: " << ready_at_once << " of " << rounds);
}

BOOST_AUTO_TEST_CASE(no_wake_runs_after_abandon_returns) {
  for (int round = 0; round < rounds; ++round) {
    held_slot held;
    std::atomic<bool> abandoned{false};
    std::atomic<int> wakes{0};
    std::atomic<int> late_wakes{0};
    BOOST_TEST_REQUIRE(!held.slot->take_or_wake([&] {
      wakes.fetch_add(1);
      if (abandoned.load()) late_wakes.fetch_add(1);
    }).has_value());
    std::latch go(resumers + 1);
    auto threads = resume_from_threads(held, go);
    go.arrive_and_wait();
    held.slot->abandon();
    abandoned.store(true);
    for (auto& t : threads) t.join();
    BOOST_TEST(wakes.load() <= 1);
    BOOST_TEST(late_wakes.load() == 0);
  }
}

BOOST_AUTO_TEST_SUITE_END()
