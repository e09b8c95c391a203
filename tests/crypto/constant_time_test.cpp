#include "crypto/constant_time.hpp"

#include <array>
#include <boost/test/unit_test.hpp>
#include <vector>

using namespace callsign::crypto;

BOOST_AUTO_TEST_SUITE(constant_time_tests)

BOOST_AUTO_TEST_CASE(equal_spans) {
  const std::array<std::uint8_t, 4> a{1, 2, 3, 4};
  const std::array<std::uint8_t, 4> b{1, 2, 3, 4};
  const std::array<std::uint8_t, 4> c{1, 2, 3, 5};
  BOOST_TEST(constant_time_equal(a, b));
  BOOST_TEST(!constant_time_equal(a, c));
}

BOOST_AUTO_TEST_CASE(length_mismatch_is_unequal) {
  const std::array<std::uint8_t, 3> shorter{1, 2, 3};
  const std::array<std::uint8_t, 4> longer{1, 2, 3, 0};
  BOOST_TEST(!constant_time_equal(shorter, longer));
  BOOST_TEST(!constant_time_equal(std::string_view("123456"), std::string_view("12345")));
  BOOST_TEST(!constant_time_equal(std::string_view(""), std::string_view("0")));
}

BOOST_AUTO_TEST_CASE(empty_inputs_are_equal) {
  BOOST_TEST(constant_time_equal(std::span<const std::uint8_t>{}, std::span<const std::uint8_t>{}));
  BOOST_TEST(constant_time_equal(std::string_view(), std::string_view("")));
}

BOOST_AUTO_TEST_CASE(strings) {
  BOOST_TEST(constant_time_equal(std::string_view("287082"), std::string_view("287082")));
  BOOST_TEST(!constant_time_equal(std::string_view("287082"), std::string_view("287083")));
}

BOOST_AUTO_TEST_CASE(wipes_bytes_and_strings) {
  std::vector<std::uint8_t> bytes{1, 2, 3, 4, 5};
  secure_wipe(bytes);
  BOOST_TEST((bytes == std::vector<std::uint8_t>(5, 0)));

  std::string text = "a secret long enough to live on the heap, not in SSO";
  const std::size_t capacity = text.capacity();
  text.resize(3);  // the old tail is still in the buffer and must be wiped too
  secure_wipe(text);
  BOOST_TEST(text.empty());
  BOOST_TEST(text.capacity() == capacity);
  for (std::size_t i = 0; i < capacity; ++i) BOOST_TEST_REQUIRE(text.data()[i] == '\0');
}

BOOST_AUTO_TEST_SUITE_END()
