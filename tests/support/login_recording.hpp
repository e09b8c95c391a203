// Records one login outcome through the embedded attempt backend, which answers inline, and
// returns what the asynchronous call answered: unit tests of the login rules read it directly.
#pragma once

#include <boost/test/unit_test.hpp>
#include <optional>
#include <string_view>

#include "server/login/login_limits.hpp"
#include "storage/embedded_attempts.hpp"

namespace callsign::test {

inline result<server::login_result_outcome> record_inline(const server::login_limiter& limiter,
                                                          const server::ip_address& address,
                                                          std::string_view normalized_username, bool success,
                                                          std::int64_t now_ms, storage::change_set& changes) {
  storage::embedded_login_attempts attempts(limiter.counters(), limiter.blocks());
  std::optional<result<server::login_result_outcome>> answered;
  server::record_login_result(limiter, attempts, address, normalized_username, success, now_ms, changes,
                              [&answered](result<server::login_result_outcome> out) { answered = std::move(out); });
  BOOST_REQUIRE_MESSAGE(answered.has_value(), "the embedded backend answers inline");
  return std::move(*answered);
}

}  // namespace callsign::test
