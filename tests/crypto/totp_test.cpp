#include "crypto/totp.hpp"

#include <array>
#include <boost/test/unit_test.hpp>
#include <limits>
#include <string>
#include <string_view>

using namespace callsign::crypto;

namespace {

hmac_key ascii_key(hash_algorithm algorithm, std::string_view secret) {
  auto created = hmac_key::create(algorithm, {reinterpret_cast<const std::uint8_t*>(secret.data()), secret.size()});
  BOOST_TEST_REQUIRE(created.has_value());
  return std::move(created).value();
}

struct rfc6238_row {
  std::int64_t time;
  std::uint64_t step;
  std::string_view sha1, sha256, sha512;
};

// RFC 6238 Appendix B, Table 1 (X = 30, T0 = 0, 8 digits).
constexpr std::array<rfc6238_row, 6> rfc6238_table{{
    {59, 0x1, "94287082", "46119246", "90693936"},
    {1111111109, 0x23523EC, "07081804", "68084774", "25091201"},
    {1111111111, 0x23523ED, "14050471", "67062674", "99943326"},
    {1234567890, 0x273EF07, "89005924", "91819424", "93441116"},
    {2000000000, 0x3F940AA, "69279037", "90698825", "38618901"},
    {20000000000, 0x27BC86AA, "65353130", "77737706", "47863826"},
}};

}  // namespace

BOOST_AUTO_TEST_SUITE(totp_tests)

BOOST_AUTO_TEST_CASE(rfc6238_appendix_b) {
  // The seeds are 20, 32 and 64 bytes: "1234567890" repeated to the digest size.
  const hmac_key sha1 = ascii_key(hash_algorithm::sha1, "12345678901234567890");
  const hmac_key sha256 = ascii_key(hash_algorithm::sha256, "12345678901234567890123456789012");
  const hmac_key sha512 =
      ascii_key(hash_algorithm::sha512, "1234567890123456789012345678901234567890123456789012345678901234");
  totp_params params;
  params.digits = 8;
  for (const auto& row : rfc6238_table) {
    BOOST_TEST(totp_step(params, row.time) == row.step);
    params.algorithm = hash_algorithm::sha1;
    BOOST_TEST(totp_code(sha1, params, row.time) == row.sha1, "time " << row.time);
    params.algorithm = hash_algorithm::sha256;
    BOOST_TEST(totp_code(sha256, params, row.time) == row.sha256, "time " << row.time);
    params.algorithm = hash_algorithm::sha512;
    BOOST_TEST(totp_code(sha512, params, row.time) == row.sha512, "time " << row.time);
    BOOST_TEST(totp_code_at_step(sha512, params, row.step) == row.sha512);
  }
}

BOOST_AUTO_TEST_CASE(defaults_are_sha1_6_digits_30_seconds) {
  const totp_params params;
  BOOST_TEST((params.algorithm == hash_algorithm::sha1));
  BOOST_TEST(params.digits == 6);
  BOOST_TEST(params.period == 30);
  BOOST_TEST(params.t0 == 0);
  BOOST_TEST(params.validate().has_value());
  // RFC 6238 time 59 is step 1: the RFC 4226 code for count 1.
  BOOST_TEST(totp_code(ascii_key(hash_algorithm::sha1, "12345678901234567890"), params, 59) == "287082");
}

BOOST_AUTO_TEST_CASE(step_is_floor_division_from_t0) {
  totp_params params;
  params.period = 30;
  params.t0 = 100;
  BOOST_TEST(totp_step(params, 100) == 0U);
  BOOST_TEST(totp_step(params, 129) == 0U);
  BOOST_TEST(totp_step(params, 130) == 1U);
  BOOST_TEST(totp_step(params, 100 + 30 * 1000 - 1) == 999U);
}

BOOST_AUTO_TEST_CASE(times_before_t0_are_step_0) {
  totp_params params;
  params.t0 = 1000;
  BOOST_TEST(totp_step(params, 999) == 0U);
  BOOST_TEST(totp_step(params, std::numeric_limits<std::int64_t>::min()) == 0U);
}

BOOST_AUTO_TEST_CASE(extreme_times_do_not_overflow) {
  totp_params params;
  params.period = 1;
  params.t0 = std::numeric_limits<std::int64_t>::min();
  BOOST_TEST(totp_step(params, std::numeric_limits<std::int64_t>::max()) == std::numeric_limits<std::uint64_t>::max());
  params.t0 = 0;
  BOOST_TEST(totp_step(params, std::numeric_limits<std::int64_t>::max()) ==
             static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()));
  params.period = 0;  // invalid, but must not divide by zero
  BOOST_TEST(totp_step(params, 5) == 5U);
}

BOOST_AUTO_TEST_CASE(validate_names_the_field) {
  totp_params params;
  params.digits = 5;
  BOOST_TEST(params.validate().error().message == "totp digits must be between 6 and 8");
  params.digits = 9;
  BOOST_TEST(params.validate().error().message == "totp digits must be between 6 and 8");
  params.digits = 8;
  BOOST_TEST(params.validate().has_value());
  params.period = 0;
  BOOST_TEST(params.validate().error().message == "totp period must be at least 1 second");
  params.period = 1;
  params.algorithm = static_cast<hash_algorithm>(9);
  BOOST_TEST(params.validate().error().message == "totp algorithm must be SHA1, SHA256 or SHA512");
}

BOOST_AUTO_TEST_SUITE_END()
