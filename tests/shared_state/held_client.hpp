// A redis::client that holds every exec until the test answers it, for the cache suites'
// orderings (an event landing while a read is in flight) that a real server cannot be made to
// show on demand.
#pragma once

#include <boost/test/unit_test.hpp>
#include <deque>
#include <mutex>
#include <utility>
#include <vector>

#include "redis/client.hpp"

namespace callsign::test {

// Thread-safety: one mutex; any thread.
class held_client final : public redis::client {
 public:
  void exec(std::vector<redis::command> commands, storage::completion<std::vector<redis::reply>> done) override {
    std::lock_guard lock(mutex_);
    held_.push_back({std::move(commands), std::move(done)});
  }
  void send(redis::command) override {}
  redis::client_status status() const override { return {}; }
  std::uint64_t round_trips() const override {
    std::lock_guard lock(mutex_);
    return execs_ + held_.size();
  }
  void stop() override {}

  std::size_t held() const {
    std::lock_guard lock(mutex_);
    return held_.size();
  }
  // Answers the oldest held exec with one reply.
  void answer(redis::reply reply) {
    storage::completion<std::vector<redis::reply>> done;
    {
      std::lock_guard lock(mutex_);
      BOOST_REQUIRE(!held_.empty());
      done = std::move(held_.front().second);
      held_.pop_front();
      ++execs_;
    }
    done(std::vector<redis::reply>{std::move(reply)});
  }

 private:
  mutable std::mutex mutex_;
  std::deque<std::pair<std::vector<redis::command>, storage::completion<std::vector<redis::reply>>>> held_;
  std::uint64_t execs_ = 0;
};

}  // namespace callsign::test
