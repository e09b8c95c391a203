#include "crypto/hex.hpp"

#include <array>
#include <boost/test/unit_test.hpp>
#include <string>
#include <vector>

using namespace callsign::crypto;

BOOST_AUTO_TEST_SUITE(hex_tests)

BOOST_AUTO_TEST_CASE(encodes_lower_case) {
  const std::vector<std::uint8_t> bytes{0x00, 0x01, 0x7f, 0x80, 0xab, 0xff};
  BOOST_TEST(hex_encode(bytes) == "00017f80abff");
  BOOST_TEST(hex_encode({}) == "");
}

BOOST_AUTO_TEST_CASE(decodes_either_case) {
  const auto decoded = hex_decode("00017F80aBfF");
  BOOST_TEST_REQUIRE(decoded.has_value());
  BOOST_TEST((*decoded == std::vector<std::uint8_t>{0x00, 0x01, 0x7f, 0x80, 0xab, 0xff}));
  BOOST_TEST(hex_decode("")->empty());
}

BOOST_AUTO_TEST_CASE(round_trips_all_byte_values) {
  std::vector<std::uint8_t> all(256);
  for (std::size_t i = 0; i < all.size(); ++i) all[i] = static_cast<std::uint8_t>(i);
  BOOST_TEST((hex_decode(hex_encode(all)).value() == all));
}

BOOST_AUTO_TEST_CASE(digit_values_in_either_case) {
  for (int c = 0; c < 256; ++c) {
    const char ch = static_cast<char>(c);
    const int expected = ch >= '0' && ch <= '9'   ? ch - '0'
                         : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
                         : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
                                                  : -1;
    BOOST_TEST(hex_digit_value(ch) == expected, "byte " << c);
  }
  static_assert(hex_digit_value('F') == 15 && hex_digit_value('g') == -1);
}

BOOST_AUTO_TEST_CASE(digit_for_each_nibble_in_either_case) {
  const std::string lower = "0123456789abcdef";
  const std::string upper = "0123456789ABCDEF";
  for (unsigned n = 0; n < 16; ++n) {
    BOOST_TEST(hex_digit(n) == lower[n], "nibble " << n);
    BOOST_TEST(hex_digit(n, hex_case::upper) == upper[n], "nibble " << n);
    BOOST_TEST(hex_digit_value(hex_digit(n)) == static_cast<int>(n));
    // Only the low four bits count, so a caller may pass a whole byte or counter.
    BOOST_TEST(hex_digit(n | 0xf0U) == lower[n]);
    BOOST_TEST(hex_digit(n | 0xfff0U, hex_case::upper) == upper[n]);
  }
  static_assert(hex_digit(10) == 'a' && hex_digit(15, hex_case::upper) == 'F' && hex_digit(0x2b) == 'b');
}

BOOST_AUTO_TEST_CASE(appends_a_byte_high_nibble_first) {
  std::string out = "%";
  append_hex_byte(out, 0x0f);
  append_hex_byte(out, 0xa0, hex_case::upper);
  append_hex_byte(out, 0xff);
  BOOST_TEST(out == "%0fA0ff");
}

BOOST_AUTO_TEST_CASE(rejects_odd_length_and_bad_characters) {
  BOOST_TEST(hex_decode("abc").error().message == "hex: odd number of characters");
  BOOST_TEST(hex_decode("0g").error().message == "hex: invalid character at position 2");
  BOOST_TEST(hex_decode(" 0").error().message == "hex: invalid character at position 1");
  BOOST_TEST(hex_decode("0x12").error().message == "hex: invalid character at position 2");
}

BOOST_AUTO_TEST_CASE(decode_into_requires_exact_size) {
  std::array<std::uint8_t, 2> out{};
  BOOST_TEST(hex_decode_into("beef", out).has_value());
  BOOST_TEST(out[0] == 0xbe);
  BOOST_TEST(out[1] == 0xef);
  BOOST_TEST(hex_decode_into("be", out).error().message == "hex: expected 4 characters");
  BOOST_TEST(hex_decode_into("beefbe", out).error().message == "hex: expected 4 characters");
}

BOOST_AUTO_TEST_SUITE_END()
