// One redis-server for the whole shared_state_tests program (a global fixture), emptied and
// given the callsign_attempts library by each test's backend, stopped with SIGTERM at the end
// (exit status 0 required).
#pragma once

#include <boost/test/unit_test.hpp>
#include <memory>

#include "shared_state/attempt_functions.hpp"
#include "support/redis_process.hpp"
#include "support/temp_directory.hpp"

namespace callsign::test {

struct redis_test_server {
  redis_test_server() {
    dir = std::make_unique<temp_directory>();
    server = std::make_unique<redis_process>(dir->path());
    instance() = this;
  }
  ~redis_test_server() {
    instance() = nullptr;
    BOOST_CHECK_EQUAL(server->stop(), 0);
  }
  static redis_test_server*& instance() {
    static redis_test_server* current = nullptr;
    return current;
  }
  // The running server, emptied, with the library loaded.
  static redis_process& fresh() {
    auto& s = *instance()->server;
    BOOST_REQUIRE_EQUAL(s.command({"FLUSHALL"}), "+OK\r\n");
    BOOST_REQUIRE(s.command({"FUNCTION", "LOAD", "REPLACE", std::string(shared_state::attempts_library())})
                      .rfind("$17\r\ncallsign_attempts", 0) == 0);
    return s;
  }

  std::unique_ptr<temp_directory> dir;
  std::unique_ptr<redis_process> server;
};

}  // namespace callsign::test
