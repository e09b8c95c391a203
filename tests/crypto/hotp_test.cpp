#include "crypto/hotp.hpp"

#include <boost/test/unit_test.hpp>
#include <string>
#include <string_view>
#include <vector>

using namespace callsign::crypto;

namespace {

hmac_key rfc4226_key() {
  constexpr std::string_view secret = "12345678901234567890";  // 0x3132...3930
  auto created =
      hmac_key::create(hash_algorithm::sha1, {reinterpret_cast<const std::uint8_t*>(secret.data()), secret.size()});
  BOOST_TEST_REQUIRE(created.has_value());
  return std::move(created).value();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(hotp_tests)

// RFC 4226 Appendix D, Table 2.
BOOST_AUTO_TEST_CASE(rfc4226_appendix_d) {
  const std::vector<std::string> expected{"755224", "287082", "359152", "969429", "338314",
                                          "254676", "287922", "162583", "399871", "520489"};
  const hmac_key key = rfc4226_key();
  for (std::uint64_t count = 0; count < expected.size(); ++count) {
    BOOST_TEST(hotp_code(key, count, 6) == expected[count], "count " << count);
  }
}

// Table 2 also lists the 31-bit truncated values; longer codes are their low digits.
BOOST_AUTO_TEST_CASE(rfc4226_truncated_values_as_8_digits) {
  const hmac_key key = rfc4226_key();
  BOOST_TEST(hotp_code(key, 0, 8) == "84755224");  // 1284755224
  BOOST_TEST(hotp_code(key, 2, 8) == "37359152");  // 137359152
  BOOST_TEST(hotp_code(key, 7, 8) == "82162583");  // 82162583
  BOOST_TEST(hotp_code(key, 7, 7) == "2162583");
}

BOOST_AUTO_TEST_CASE(digits_outside_the_range_are_clamped) {
  const hmac_key key = rfc4226_key();
  BOOST_TEST(hotp_code(key, 0, 0) == "755224");
  BOOST_TEST(hotp_code(key, 0, -3) == "755224");
  BOOST_TEST(hotp_code(key, 0, 10) == "84755224");
}

BOOST_AUTO_TEST_CASE(keeps_leading_zeros) {
  // RFC 6238 Appendix B: T = 0x23523EC gives SHA-1 code 07081804 (a leading zero).
  const hmac_key key = rfc4226_key();
  BOOST_TEST(hotp_code(key, 0x23523EC, 8) == "07081804");
}

BOOST_AUTO_TEST_SUITE_END()
