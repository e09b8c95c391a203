#include "crypto/key_derivation.hpp"

#include <boost/test/unit_test.hpp>
#include <string>
#include <vector>

#include "crypto/hex.hpp"

using namespace callsign::crypto;

namespace {

master_key test_master_key(std::uint32_t version = 1) {
  master_key key;
  key.version = version;
  for (std::size_t i = 0; i < key.bytes.size(); ++i) key.bytes[i] = static_cast<std::uint8_t>(i);
  return key;  // bytes 00 01 .. 1f
}

}  // namespace

BOOST_AUTO_TEST_SUITE(key_derivation_tests)

// Expected values computed independently with the OpenSSL CLI:
//   printf 'callsign phone-token\0user-42' |
//     openssl dgst -sha256 -mac HMAC -macopt hexkey:000102...1f
BOOST_AUTO_TEST_CASE(phone_token_secret_fixed_vector) {
  BOOST_TEST(hex_encode(phone_token_secret(test_master_key(), "user-42")) ==
             "9ab3d193c5d87f0b0cb009604a74a3d66743d6f75e04639f265d420296607c93");
  // printf 'callsign phone-token\0zo\xc3\xab' | openssl dgst ... (UTF-8 user id)
  BOOST_TEST(hex_encode(phone_token_secret(test_master_key(), "zo\xc3\xab")) ==
             "b1b644251c503b35dbc25aa1c1cb845ae9e1bbd257d2da81321de3ebfda9fdaa");
  // printf 'callsign phone-token\0' | openssl dgst ... (empty user id)
  BOOST_TEST(hex_encode(phone_token_secret(test_master_key(), "")) ==
             "246c2facb4d48f7a6f1846ce4e84b6f30d3f5e47cce045c141f62e90da567025");
}

// printf 'orders\0\x01\x02\x03' | openssl dgst -sha256 -mac HMAC -macopt hexkey:0001..1f
BOOST_AUTO_TEST_CASE(derive_key_fixed_vector) {
  const std::array<std::uint8_t, 3> context{1, 2, 3};
  BOOST_TEST(hex_encode(derive_key(test_master_key(), "orders", context)) ==
             "6a046adac014dffab265d0cfd18c532a63a87efab19f72726a7a6c3694017437");
}

BOOST_AUTO_TEST_CASE(labels_and_versions_separate_keys) {
  const std::array<std::uint8_t, 1> context{'x'};
  const auto a = derive_key(test_master_key(), "a", context);
  const auto b = derive_key(test_master_key(), "b", context);
  BOOST_TEST((a != b));
  // The 0x00 separator keeps ("ab", "") and ("a", "b") apart.
  const std::array<std::uint8_t, 1> b_context{'b'};
  BOOST_TEST((derive_key(test_master_key(), "ab", {}) != derive_key(test_master_key(), "a", b_context)));
  master_key other = test_master_key(2);
  other.bytes[0] ^= 1;
  BOOST_TEST((phone_token_secret(other, "user-42") != phone_token_secret(test_master_key(), "user-42")));
}

// Expected codes from oathtool over the secret above (an independent TOTP implementation):
//   oathtool --totp --now=@1111111109 9ab3d193...7c93            -> 737791
//   oathtool --totp --now=@1700000000 9ab3d193...7c93            -> 886338
//   oathtool --totp=sha256 --digits=8 --time-step-size=60s --now=@1700000000 ... -> 60240262
BOOST_AUTO_TEST_CASE(phone_token_is_totp_over_the_derived_secret) {
  const totp_params defaults;
  BOOST_TEST(phone_token(test_master_key(), "user-42", defaults, 1111111109) == "737791");
  BOOST_TEST(phone_token(test_master_key(), "user-42", defaults, 1700000000) == "886338");
  BOOST_TEST(phone_token_at_step(test_master_key(), "user-42", defaults, 1700000000 / 30) == "886338");
  totp_params params;
  params.algorithm = hash_algorithm::sha256;
  params.digits = 8;
  params.period = 60;
  BOOST_TEST(phone_token(test_master_key(), "user-42", params, 1700000000) == "60240262");
}

BOOST_AUTO_TEST_CASE(tokens_at_several_steps_match_one_at_a_time) {
  const totp_params defaults;
  const std::vector<std::uint64_t> steps = {1700000000 / 30 - 1, 1700000000 / 30, 1111111109 / 30, 0};
  const auto codes = phone_tokens_at_steps(test_master_key(), "user-42", defaults, steps);
  BOOST_TEST_REQUIRE(codes.size() == steps.size());
  BOOST_TEST(codes[1] == "886338");
  BOOST_TEST(codes[2] == "737791");
  for (std::size_t i = 0; i < steps.size(); ++i) {
    BOOST_TEST(codes[i] == phone_token_at_step(test_master_key(), "user-42", defaults, steps[i]));
  }
  BOOST_TEST(codes[0] != codes[1]);
  BOOST_TEST(phone_tokens_at_steps(test_master_key(), "user-42", defaults, {}).empty());
}

BOOST_AUTO_TEST_SUITE_END()
