#include "crypto/percent_coding.hpp"

#include <boost/test/unit_test.hpp>
#include <string>

using namespace callsign;
using namespace callsign::crypto;

BOOST_AUTO_TEST_SUITE(percent_coding_tests)

BOOST_AUTO_TEST_CASE(decodes_escapes_in_either_case) {
  BOOST_TEST(percent_decode("a%40b%3Ac").value() == "a@b:c");
  BOOST_TEST(percent_decode("%2f%2F%7e").value() == "//~");
  BOOST_TEST(percent_decode("").value() == "");
  BOOST_TEST(percent_decode("plain-text_1.~").value() == "plain-text_1.~");
  // Decoded once: "%2540" is "%40", not "@".
  BOOST_TEST(percent_decode("%2540").value() == "%40");
  BOOST_TEST(percent_decode("%00").value() == std::string(1, '\0'));
  BOOST_TEST(percent_decode("%C3%BC").value() == "\xc3\xbc");
}

BOOST_AUTO_TEST_CASE(plus_is_literal_unless_asked_for_form_encoding) {
  BOOST_TEST(percent_decode("a+b%2B").value() == "a+b+");
  BOOST_TEST(percent_decode("a+b%2B", plus_sign::space).value() == "a b+");
}

BOOST_AUTO_TEST_CASE(bad_escapes_are_errors_that_name_a_position_not_the_text) {
  for (const char* bad : {"%", "%4", "%zz", "%4g", "%g4", "ab%", "ab%2", "%%41", "secret%x1"}) {
    const auto decoded = percent_decode(bad);
    BOOST_TEST_REQUIRE(!decoded.has_value(), bad);
    BOOST_TEST((decoded.error().kind == error_kind::invalid_input));
    BOOST_TEST(decoded.error().message.find("bad percent escape at position ") == 0U);
    BOOST_TEST(decoded.error().message.find("secret") == std::string::npos);
  }
  BOOST_TEST(percent_decode("ab%zz").error().message == "bad percent escape at position 3");
  BOOST_TEST(percent_decode("ab%zz", plus_sign::literal, 10).error().message == "bad percent escape at position 13");
}

BOOST_AUTO_TEST_CASE(encodes_all_but_unreserved_in_upper_case) {
  BOOST_TEST(percent_encode("a@b:c/d e+f%") == "a%40b%3Ac%2Fd%20e%2Bf%25");
  BOOST_TEST(percent_encode("AZaz09-._~") == "AZaz09-._~");
  BOOST_TEST(percent_encode(std::string("\0\xff", 2)) == "%00%FF");
  BOOST_TEST(percent_encode("a@b:c", "@:") == "a@b:c");
  std::string out = "x/";
  percent_encode_append(out, "y z", "");
  BOOST_TEST(out == "x/y%20z");
}

BOOST_AUTO_TEST_CASE(every_byte_round_trips) {
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  const auto encoded = percent_encode(all);
  for (char c : encoded) BOOST_TEST((is_unreserved(c) || c == '%' || (c >= 'A' && c <= 'F')));
  BOOST_TEST(percent_decode(encoded).value() == all);
  BOOST_TEST(percent_decode(encoded, plus_sign::space).value() == all);  // '+' is always escaped
}

BOOST_AUTO_TEST_SUITE_END()
