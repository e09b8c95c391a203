// The Redis attempt backends over the test server, as the attempts contract cases
// (support/attempts_contract_cases.hpp) and the Redis-specific tests use them: every call is
// awaited, and a Redis backend must append nothing to the change set.
#pragma once

#include <boost/test/unit_test.hpp>
#include <optional>

#include "blocking_redis_client.hpp"
#include "redis_test_server.hpp"
#include "shared_state/redis_attempts.hpp"
#include "shared_state/redis_blocks.hpp"
#include "support/completion_wait.hpp"

namespace callsign::test {

struct redis_backend {
  explicit redis_backend(shared_state::redis_write_options options = {})
      : server(redis_test_server::fresh()), client(server.port()), codes(client, options, &counts),
        logins(client, options, &counts), blocks(client, options, &counts) {}

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
  blocking_redis_client client;
  shared_state::redis_operation_counts counts;
  shared_state::redis_code_attempts codes;
  shared_state::redis_login_attempts logins;
  shared_state::redis_block_directory blocks;
  bool appended_nothing = true;
};

}  // namespace callsign::test
