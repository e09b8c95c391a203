// The Redis attempt backends over the test server, as the attempts contract cases
// (support/attempts_contract_cases.hpp) and the Redis-specific tests use them: every call is
// awaited, and a Redis backend must append nothing to the change set. Two connections to choose
// from: the blocking test client (blocking_redis_client.hpp: counts execs, injects replies) and
// the production client (redis::client::start: one pipelined connection, completions on its
// own thread, the library loaded by its setup commands).
#pragma once

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <thread>

#include "blocking_redis_client.hpp"
#include "redis/client.hpp"
#include "redis_test_server.hpp"
#include "shared_state/redis_attempts.hpp"
#include "shared_state/redis_blocks.hpp"
#include "support/completion_wait.hpp"

namespace callsign::test {

struct blocking_connection {
  using client_type = blocking_redis_client;
  explicit blocking_connection(redis_process& server) : client(server.port()) {}
  blocking_redis_client client;
};

struct production_connection {
  using client_type = redis::client;
  explicit production_connection(redis_process& server) : owned(start(server)), client(*owned) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!owned->status().connected && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));  // polling an observable state
    }
    BOOST_REQUIRE(owned->status().connected);
  }
  ~production_connection() { owned->stop(); }
  production_connection(const production_connection&) = delete;
  production_connection& operator=(const production_connection&) = delete;

  static std::unique_ptr<redis::client> start(redis_process& server) {
    redis::client_options options;
    options.address = {"127.0.0.1", server.port()};
    redis::client_callbacks callbacks;
    // A fence at 0: the contract cases claim steps of any time.
    callbacks.setup_commands = [](const redis::primary_info& primary) {
      return shared_state::attempts_setup_commands(primary.run_id, 0);
    };
    return redis::client::start(options, callbacks, {});
  }

  std::unique_ptr<redis::client> owned;
  redis::client& client;
};

template <class Connection>
struct redis_backend_on {
  explicit redis_backend_on(shared_state::redis_write_options options = {})
      : server(redis_test_server::fresh()),
        connection(server),
        client(connection.client),
        codes(client, options, &counts),
        logins(client, options, &counts),
        blocks(client, options, &counts) {}

  result<storage::code_attempt_result> try_settle(const storage::code_attempt& attempt) {
    storage::change_set changes;
    auto out = wait_for<storage::code_attempt_result>([&](auto done) { codes.settle(attempt, changes, done); });
    appended_nothing = appended_nothing && changes.ops.empty();
    return out;
  }
  result<storage::login_attempt_result> try_record(const storage::login_attempt& attempt) {
    storage::change_set changes;
    auto out = wait_for<storage::login_attempt_result>([&](auto done) { logins.record(attempt, changes, done); });
    appended_nothing = appended_nothing && changes.ops.empty();
    return out;
  }

  storage::code_attempt_result settle(const storage::code_attempt& attempt) {
    auto out = try_settle(attempt);
    BOOST_REQUIRE(out);
    BOOST_REQUIRE(appended_nothing);
    return *out;
  }
  storage::login_attempt_result record(const storage::login_attempt& attempt) {
    auto out = try_record(attempt);
    BOOST_REQUIRE(out);
    BOOST_REQUIRE(appended_nothing);
    return *out;
  }
  std::optional<storage::code_attempt_result> settle_racing(const storage::code_attempt& attempt) {
    storage::change_set changes;
    auto out = wait_for<storage::code_attempt_result>([&](auto done) { codes.settle(attempt, changes, done); });
    if (!out || !changes.ops.empty()) return std::nullopt;
    return *out;
  }
  std::optional<storage::login_attempt_result> record_racing(const storage::login_attempt& attempt) {
    storage::change_set changes;
    auto out = wait_for<storage::login_attempt_result>([&](auto done) { logins.record(attempt, changes, done); });
    if (!out || !changes.ops.empty()) return std::nullopt;
    return *out;
  }

  redis_process& server;
  Connection connection;
  typename Connection::client_type& client;
  shared_state::redis_operation_counts counts;
  shared_state::redis_code_attempts codes;
  shared_state::redis_login_attempts logins;
  shared_state::redis_block_directory blocks;
  bool appended_nothing = true;
};

using redis_backend = redis_backend_on<blocking_connection>;
using production_redis_backend = redis_backend_on<production_connection>;

}  // namespace callsign::test
