#include "crypto/random_bytes.hpp"

#include <array>
#include <boost/test/unit_test.hpp>
#include <vector>

using namespace callsign::crypto;

BOOST_AUTO_TEST_SUITE(random_bytes_tests)

BOOST_AUTO_TEST_CASE(fills_the_buffer_with_distinct_values) {
  std::array<std::uint8_t, 32> a{};
  std::array<std::uint8_t, 32> b{};
  BOOST_TEST_REQUIRE(random_bytes(a).has_value());
  BOOST_TEST_REQUIRE(random_bytes(b).has_value());
  // A collision of 256 random bits, or an all-zero result, would mean a broken generator.
  BOOST_TEST((a != b));
  BOOST_TEST((a != std::array<std::uint8_t, 32>{}));
}

BOOST_AUTO_TEST_CASE(empty_request_succeeds) {
  BOOST_TEST(random_bytes({}).has_value());
}

BOOST_AUTO_TEST_SUITE_END()
