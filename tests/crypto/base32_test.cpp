#include "crypto/base32.hpp"

#include <array>
#include <boost/test/unit_test.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

using namespace callsign::crypto;

namespace {

std::vector<std::uint8_t> bytes_of(std::string_view text) {
  return {text.begin(), text.end()};
}

std::string decoded_text(std::string_view base32) {
  const auto decoded = base32_decode(base32);
  BOOST_TEST_REQUIRE(decoded.has_value(), base32);
  return {decoded->begin(), decoded->end()};
}

std::string decode_error(std::string_view base32) {
  const auto decoded = base32_decode(base32);
  BOOST_TEST_REQUIRE(!decoded.has_value(), base32);
  BOOST_TEST((decoded.error().kind == callsign::error_kind::invalid_input));
  return decoded.error().message;
}

// RFC 4648 section 10, with the padding stripped for encoding (otpauth omits it).
constexpr std::array<std::pair<std::string_view, std::string_view>, 7> rfc4648_vectors{{
    {"", ""},
    {"f", "MY======"},
    {"fo", "MZXQ===="},
    {"foo", "MZXW6==="},
    {"foob", "MZXW6YQ="},
    {"fooba", "MZXW6YTB"},
    {"foobar", "MZXW6YTBOI======"},
}};

std::string_view without_padding(std::string_view text) {
  return text.substr(0, text.find('='));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(base32_tests)

BOOST_AUTO_TEST_CASE(rfc4648_encode_without_padding) {
  for (const auto& [plain, encoded] : rfc4648_vectors) {
    BOOST_TEST(base32_encode(bytes_of(plain)) == without_padding(encoded));
  }
}

BOOST_AUTO_TEST_CASE(rfc4648_decode_with_and_without_padding) {
  for (const auto& [plain, encoded] : rfc4648_vectors) {
    BOOST_TEST(decoded_text(encoded) == plain);
    BOOST_TEST(decoded_text(without_padding(encoded)) == plain);
  }
}

BOOST_AUTO_TEST_CASE(decode_is_case_insensitive) {
  BOOST_TEST(decoded_text("mzxw6ytboi") == "foobar");
  BOOST_TEST(decoded_text("MzXw6YtBoI======") == "foobar");
}

BOOST_AUTO_TEST_CASE(round_trips_every_length) {
  std::vector<std::uint8_t> data;
  for (std::size_t size = 0; size < 70; ++size) {
    const auto decoded = base32_decode(base32_encode(data));
    BOOST_TEST_REQUIRE(decoded.has_value());
    BOOST_TEST((*decoded == data));
    data.push_back(static_cast<std::uint8_t>(size * 37 + 11));
  }
}

BOOST_AUTO_TEST_CASE(rejects_invalid_characters_naming_the_position) {
  BOOST_TEST(decode_error("MZXW1YTB") == "base32: invalid character at position 5");
  BOOST_TEST(decode_error("MZXW8YTB") == "base32: invalid character at position 5");
  BOOST_TEST(decode_error("MZXW6YT ") == "base32: invalid character at position 8");
  BOOST_TEST(decode_error("-MZXW6YTB") == "base32: invalid character at position 1");
  BOOST_TEST(decode_error(std::string("MZ\0W6YTB", 8)) == "base32: invalid character at position 3");
  BOOST_TEST(decode_error("MZXW\xc3\xa9YT") == "base32: invalid character at position 5");
}

BOOST_AUTO_TEST_CASE(error_messages_do_not_echo_the_input) {
  const std::string message = decode_error("SECRETVALUE!");
  BOOST_TEST(message.find("SECRET") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(rejects_data_after_padding) {
  BOOST_TEST(decode_error("MY======MY======") == "base32: invalid character at position 9");
  BOOST_TEST(decode_error("MZ=XW6==") == "base32: invalid character at position 4");
}

BOOST_AUTO_TEST_CASE(rejects_wrong_padding) {
  BOOST_TEST(decode_error("MY=") == "base32: wrong amount of '=' padding");
  BOOST_TEST(decode_error("MY=======") == "base32: wrong amount of '=' padding");
  BOOST_TEST(decode_error("MZXW6YTB========") == "base32: wrong amount of '=' padding");
  BOOST_TEST(decode_error("========") == "base32: wrong amount of '=' padding");
}

BOOST_AUTO_TEST_CASE(rejects_impossible_lengths) {
  for (const char* text : {"M", "MZX", "MZXW6Y", "MZXW6YTBO", "M=======", "MZX====="}) {
    BOOST_TEST(decode_error(text) == "base32: length is not a whole number of bytes", text);
  }
}

BOOST_AUTO_TEST_CASE(rejects_non_zero_trailing_bits) {
  // "MY" is 'f' followed by two zero bits; "MZ" and "M3" set them.
  BOOST_TEST(decode_error("MZ") == "base32: non-zero bits after the last byte");
  BOOST_TEST(decode_error("M3") == "base32: non-zero bits after the last byte");
  BOOST_TEST(decode_error("MZXW6YTBOJ") == "base32: non-zero bits after the last byte");
}

BOOST_AUTO_TEST_SUITE_END()
