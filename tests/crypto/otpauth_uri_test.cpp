#include "crypto/otpauth_uri.hpp"

#include <boost/test/unit_test.hpp>
#include <string>
#include <vector>

using namespace callsign::crypto;

namespace {

// Boost evaluates a check's message even when the check passes, so read the error lazily.
template <class T>
std::string error_text(const callsign::result<T>& r) {
  return r.has_value() ? std::string() : r.error().message;
}

// "12345678901234567890", base32 GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ.
std::vector<std::uint8_t> rfc_secret() {
  constexpr std::string_view ascii = "12345678901234567890";
  return {ascii.begin(), ascii.end()};
}

otpauth_params sample() {
  otpauth_params params;
  params.issuer = "Example Co";
  params.account = "alice@example.com";
  params.secret = rfc_secret();
  return params;
}

otpauth_params parsed(std::string_view uri) {
  auto result = parse_otpauth_uri(uri);
  BOOST_TEST_REQUIRE(result.has_value(), uri << ": " << error_text(result));
  return std::move(result).value();
}

std::string parse_error(std::string_view uri) {
  const auto result = parse_otpauth_uri(uri);
  BOOST_TEST_REQUIRE(!result.has_value(), uri);
  BOOST_TEST((result.error().kind == callsign::error_kind::invalid_input));
  return result.error().message;
}

void check_round_trip(const otpauth_params& original) {
  const std::string uri = make_otpauth_uri(original);
  const otpauth_params back = parsed(uri);
  BOOST_TEST(back.issuer == original.issuer, uri);
  BOOST_TEST(back.account == original.account, uri);
  BOOST_TEST((back.secret == original.secret), uri);
  BOOST_TEST((back.algorithm == original.algorithm), uri);
  BOOST_TEST(back.digits == original.digits, uri);
  BOOST_TEST(back.period == original.period, uri);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(otpauth_uri_tests)

BOOST_AUTO_TEST_CASE(builds_the_google_key_uri_format) {
  BOOST_TEST(make_otpauth_uri(sample()) ==
             "otpauth://totp/Example%20Co:alice%40example.com"
             "?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Example%20Co"
             "&algorithm=SHA1&digits=6&period=30");
}

BOOST_AUTO_TEST_CASE(percent_encodes_everything_but_unreserved) {
  otpauth_params params = sample();
  params.issuer = "A&B=C?D/E:F#G+H%I";
  params.account =
      "z\xc3\xb6"
      "e~._-";
  params.algorithm = hash_algorithm::sha512;
  params.digits = 8;
  params.period = 60;
  BOOST_TEST(make_otpauth_uri(params) ==
             "otpauth://totp/A%26B%3DC%3FD%2FE%3AF%23G%2BH%25I:z%C3%B6e~._-"
             "?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=A%26B%3DC%3FD%2FE%3AF%23G%2BH%25I"
             "&algorithm=SHA512&digits=8&period=60");
  check_round_trip(params);
}

BOOST_AUTO_TEST_CASE(without_issuer_the_label_is_the_account) {
  otpauth_params params = sample();
  params.issuer.clear();
  BOOST_TEST(make_otpauth_uri(params) ==
             "otpauth://totp/alice%40example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
             "&algorithm=SHA1&digits=6&period=30");
  check_round_trip(params);
}

BOOST_AUTO_TEST_CASE(round_trips) {
  check_round_trip(sample());
  otpauth_params params = sample();
  params.issuer = "Issuer:with:colons";
  params.account = "account:with:colons";
  params.algorithm = hash_algorithm::sha256;
  params.digits = 7;
  params.period = 1;
  check_round_trip(params);
  params.issuer.clear();  // a colon in the account must not turn into a separator
  check_round_trip(params);
  params.account = "\xff\xfe binary-ish \x80";
  params.secret = std::vector<std::uint8_t>(64, 0xa5);
  check_round_trip(params);
}

BOOST_AUTO_TEST_CASE(missing_optional_parameters_take_defaults) {
  const auto params = parsed("otpauth://totp/alice?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
  BOOST_TEST(params.issuer == "");
  BOOST_TEST(params.account == "alice");
  BOOST_TEST((params.secret == rfc_secret()));
  BOOST_TEST((params.algorithm == hash_algorithm::sha1));
  BOOST_TEST(params.digits == 6);
  BOOST_TEST(params.period == 30);
}

BOOST_AUTO_TEST_CASE(tolerates_what_other_generators_write) {
  // Google's own example: issuer only as a parameter, lower-case secret, padding, image.
  auto params = parsed(
      "OTPAUTH://TOTP/Example:alice@google.com?secret=jbswy3dpehpk3pxp&issuer=Example"
      "&image=https%3A%2F%2Fexample.com%2Flogo.png&");
  BOOST_TEST(params.issuer == "Example");
  BOOST_TEST(params.account == "alice@google.com");
  BOOST_TEST(params.secret.size() == 10U);

  params = parsed(
      "otpauth://totp/ACME%20Co%3A%20%20john.doe%40email.com"
      "?secret=GEZDGNBVGY3TQOJQ&algorithm=sha256&&digits=8&period=45");
  BOOST_TEST(params.issuer == "ACME Co");
  BOOST_TEST(params.account == "john.doe@email.com");  // encoded separator, spaces skipped
  BOOST_TEST((params.algorithm == hash_algorithm::sha256));
  BOOST_TEST(params.digits == 8);
  BOOST_TEST(params.period == 45);

  params = parsed("otpauth://totp/Only%20Param:bob?issuer=Only%20Param&secret=MZXW6%3D%3D%3D");
  BOOST_TEST(params.issuer == "Only Param");
  BOOST_TEST(params.secret.size() == 3U);

  params = parsed("otpauth://totp/carol?issuer=From%20Param&secret=MZXW6&counter=3");
  BOOST_TEST(params.issuer == "From Param");
  BOOST_TEST(params.account == "carol");
}

BOOST_AUTO_TEST_CASE(rejects_malformed_uris) {
  const std::string good_query = "?secret=GEZDGNBVGY3TQOJQ";
  BOOST_TEST(parse_error("") == "otpauth URI: must start with otpauth://");
  BOOST_TEST(parse_error("https://totp/a" + good_query) == "otpauth URI: must start with otpauth://");
  BOOST_TEST(parse_error("otpauth://hotp/a" + good_query) == "otpauth URI: only totp URIs are supported");
  BOOST_TEST(parse_error("otpauth://totpx/a" + good_query) == "otpauth URI: unknown OTP type");
  BOOST_TEST(parse_error("otpauth://totp") == "otpauth URI: missing the label after the type");
  BOOST_TEST(parse_error("otpauth://totp/" + good_query) == "otpauth URI: missing the label after the type");
  BOOST_TEST(parse_error("otpauth://totp/Issuer:" + good_query) == "otpauth URI: the account name is empty");
  BOOST_TEST(parse_error("otpauth://totp/a") == "otpauth URI: the secret is missing");
  BOOST_TEST(parse_error("otpauth://totp/a?secret=") == "otpauth URI: the secret is missing");
  BOOST_TEST(parse_error("otpauth://totp/a?secret=GEZ1") ==
             "otpauth URI: the secret is not valid base32 "
             "(base32: invalid character at position 4)");
  BOOST_TEST(parse_error("otpauth://totp/a b" + good_query) ==
             "otpauth URI: character at position 17 is not printable ASCII "
             "(spaces must be written %20)");
  BOOST_TEST(parse_error("otpauth://totp/a%2" + good_query) == "otpauth URI: bad percent escape at position 17");
  BOOST_TEST(parse_error("otpauth://totp/a%zz" + good_query) == "otpauth URI: bad percent escape at position 17");
  BOOST_TEST(parse_error("otpauth://totp/a%0Ab" + good_query) == "otpauth URI: the label contains control characters");
  BOOST_TEST(parse_error("otpauth://totp/a" + good_query + "&digits=9") == "otpauth URI: digits must be 6, 7 or 8");
  BOOST_TEST(parse_error("otpauth://totp/a" + good_query + "&digits=+6") == "otpauth URI: digits must be 6, 7 or 8");
  BOOST_TEST(parse_error("otpauth://totp/a" + good_query + "&period=0") ==
             "otpauth URI: period must be a whole number of seconds from 1 to 86400");
  BOOST_TEST(parse_error("otpauth://totp/a" + good_query + "&period=99999999999999999999") ==
             "otpauth URI: period must be a whole number of seconds from 1 to 86400");
  BOOST_TEST(parse_error("otpauth://totp/a" + good_query + "&algorithm=MD5") ==
             "otpauth URI: algorithm must be SHA1, SHA256 or SHA512");
  BOOST_TEST(parse_error("otpauth://totp/a" + good_query + "&secret=MZXW6") ==
             "otpauth URI: parameter 'secret' is repeated");
  BOOST_TEST(parse_error("otpauth://totp/a" + good_query + "&digits") ==
             "otpauth URI: parameter without '=' at position 42");
  BOOST_TEST(parse_error("otpauth://totp/X:a" + good_query + "&issuer=Y") ==
             "otpauth URI: the issuer parameter does not match the label");
  BOOST_TEST(parse_error("otpauth://totp/a" + good_query + "#frag") == "otpauth URI: fragments are not allowed");
  BOOST_TEST(parse_error("otpauth://totp/a" + good_query + "&issuer=%7F") ==
             "otpauth URI: the issuer contains control characters");
  BOOST_TEST(parse_error("otpauth://totp/a" + good_query + "&x=" + std::string(5000, 'a')) ==
             "otpauth URI: longer than 4096 characters");
}

BOOST_AUTO_TEST_CASE(error_messages_do_not_echo_the_secret) {
  const std::string message = parse_error("otpauth://totp/a?secret=SECRETSECRET1");
  BOOST_TEST(message.find("SECRET") == std::string::npos);
}

// A cheap stand-in for the fuzzer: every prefix and every single-byte mutation of a valid
// URI must parse or fail cleanly (run under ASan/UBSan to catch out-of-bounds reads).
BOOST_AUTO_TEST_CASE(survives_truncation_and_mutation) {
  const std::string uri = make_otpauth_uri(sample());
  for (std::size_t size = 0; size <= uri.size(); ++size) {
    (void)parse_otpauth_uri(std::string_view(uri).substr(0, size));
  }
  for (std::size_t i = 0; i < uri.size(); ++i) {
    for (int byte : {0x00, 0x25, 0x3a, 0x3d, 0x26, 0x3f, 0x2f, 0x41, 0x7f, 0xff}) {
      std::string mutated = uri;
      mutated[i] = static_cast<char>(byte);
      (void)parse_otpauth_uri(mutated);
    }
  }
  BOOST_TEST(parse_otpauth_uri(uri).has_value());
}

BOOST_AUTO_TEST_SUITE_END()
