// body_rate_deadline (server/http/body_rate.hpp): the rate floor the session layer holds a streamed
// body to, in whole seconds and a remainder so that large bodies cannot overflow it.
#include "server/http/body_rate.hpp"

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstdint>

using callsign::server::body_rate_deadline;

BOOST_AUTO_TEST_SUITE(body_rate_floor)

BOOST_AUTO_TEST_CASE(the_deadline_is_start_plus_grace_plus_what_the_bytes_buy) {
  using namespace std::chrono_literals;
  using steady = std::chrono::steady_clock;
  const steady::time_point start{std::chrono::seconds(1000)};
  BOOST_TEST((body_rate_deadline(start, 3s, 0, 16384) == start + 3s));
  BOOST_TEST((body_rate_deadline(start, 3s, 16384, 16384) == start + 4s));
  BOOST_TEST((body_rate_deadline(start, 3s, 8192, 16384) == start + 3500ms));
  // 16 GiB at 1 byte per second: no overflow, about 544 years later.
  BOOST_TEST((body_rate_deadline(start, 3s, std::uint64_t{16} << 30, 1) ==
              start + 3s + std::chrono::seconds(std::uint64_t{16} << 30)));
  BOOST_TEST((body_rate_deadline(start, 3s, 123, 0) == steady::time_point::max()));  // no floor
  BOOST_TEST((body_rate_deadline(steady::time_point::max() - 1s, 3s, 5, 1) == steady::time_point::max()));
}

BOOST_AUTO_TEST_SUITE_END()
