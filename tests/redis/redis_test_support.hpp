// Shared by the redis_tests cases: client options for a test server, a blocking exec, and a
// bounded wait for an observable condition.
#pragma once

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <thread>
#include <vector>

#include "redis/client.hpp"
#include "support/redis_process.hpp"

namespace callsign::test {

inline redis::client_options options_for(const redis_process& server) {
  redis::client_options options;
  options.address = {"127.0.0.1", server.port()};
  options.connect_timeout = std::chrono::milliseconds(1000);
  options.command_timeout = std::chrono::milliseconds(3000);
  options.reconnect_min = std::chrono::milliseconds(20);
  options.reconnect_max = std::chrono::milliseconds(200);
  return options;
}

// Sends the exec at once; its answer arrives in the future (several may be in flight).
inline std::future<result<std::vector<redis::reply>>> exec_async(redis::client& client,
                                                                 std::vector<redis::command> commands) {
  auto promise = std::make_shared<std::promise<result<std::vector<redis::reply>>>>();
  auto future = promise->get_future();
  client.exec(std::move(commands), [promise](result<std::vector<redis::reply>> answer) {
    promise->set_value(std::move(answer));
  });
  return future;
}

// Waits (bounded) for the exec's answer; an internal error when none came within `bound`.
inline result<std::vector<redis::reply>> exec_wait(redis::client& client, std::vector<redis::command> commands,
                                                   std::chrono::milliseconds bound = std::chrono::milliseconds(30000)) {
  auto future = exec_async(client, std::move(commands));
  if (future.wait_for(bound) != std::future_status::ready) {
    return make_error(error_kind::internal, "test: no answer within the bound");
  }
  return future.get();
}

// Polls `condition` every 10 ms until it holds or `bound` passed; returns whether it held.
inline bool wait_until(const std::function<bool()>& condition,
                       std::chrono::milliseconds bound = std::chrono::milliseconds(10000)) {
  const auto deadline = std::chrono::steady_clock::now() + bound;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

inline bool wait_connected(const redis::client& client) {
  return wait_until([&] { return client.status().connected; });
}

}  // namespace callsign::test
