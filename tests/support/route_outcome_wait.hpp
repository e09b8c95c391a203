// Runs a route's outcome to its final response in a unit test, as the session does: an
// async_response is awaited (its resume may come from any thread) and a deferred response's
// change set is committed through `sink` (the test's group-commit writer) before it finishes.
#pragma once

#include <condition_variable>
#include <future>
#include <mutex>
#include <stdexcept>
#include <variant>

#include "server/http/router.hpp"

namespace callsign::test {

// Awaits every async_response in turn, as the session does, and returns what the last one
// resumed with: a response or a deferred response.
inline server::route_outcome awaited(server::route_outcome outcome) {
  while (auto* pending = std::get_if<server::async_response>(&outcome)) {
    std::mutex mutex;
    std::condition_variable woken;
    bool ready = false;
    auto slot = server::pending_reply::start(std::move(*pending));
    auto taken = slot->take_or_wake([&] {
      std::lock_guard lock(mutex);
      ready = true;
      woken.notify_one();
    });
    if (!taken) {
      std::unique_lock lock(mutex);
      woken.wait(lock, [&] { return ready; });
      lock.unlock();
      taken = slot->take_or_wake([] {});
    }
    outcome = std::move(*taken);
  }
  return outcome;
}

inline server::http_response final_response(server::route_outcome outcome, storage::commit_sink* sink = nullptr) {
  outcome = awaited(std::move(outcome));
  if (auto* deferred = std::get_if<server::deferred_response>(&outcome)) {
    if (sink == nullptr) {
      throw std::logic_error("a deferred response needs a commit sink");
    }
    auto committed = std::make_shared<std::promise<result<storage::commit_receipt>>>();
    auto done = committed->get_future();
    sink->submit(std::move(deferred->changes),
                 [committed](result<storage::commit_receipt> r) { committed->set_value(std::move(r)); });
    return server::router::finish(*deferred, done.get());
  }
  return std::move(std::get<server::http_response>(outcome));
}

}  // namespace callsign::test
