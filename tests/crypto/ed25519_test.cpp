#include "crypto/ed25519.hpp"

#include <boost/test/unit_test.hpp>
#include <string>
#include <vector>

#include "crypto/hex.hpp"

using namespace callsign::crypto;

namespace {

std::vector<std::uint8_t> unhex(std::string_view text) {
  auto decoded = hex_decode(text);
  BOOST_REQUIRE(decoded);
  return *decoded;
}

std::span<const std::uint8_t> bytes_of(std::string_view text) {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

ed25519_signing_key key_from_hex(std::string_view seed_hex) {
  auto key = ed25519_signing_key::from_seed(unhex(seed_hex));
  BOOST_REQUIRE(key);
  return std::move(key).value();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(ed25519_tests)

// RFC 8032 section 7.1, TEST 1 (empty message).
BOOST_AUTO_TEST_CASE(rfc8032_test_1_empty_message) {
  const auto key = key_from_hex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
  BOOST_TEST(hex_encode(key.public_key()) == "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
  const auto signature = key.sign({});
  BOOST_REQUIRE(signature);
  BOOST_TEST(hex_encode(*signature) ==
             "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0"
             "595bbe24655141438e7a100b");
  BOOST_TEST(ed25519_verify(key.public_key(), {}, *signature));
}

// RFC 8032 section 7.1, TEST 2 (one-byte message 0x72).
BOOST_AUTO_TEST_CASE(rfc8032_test_2_one_byte) {
  const auto key = key_from_hex("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb");
  BOOST_TEST(hex_encode(key.public_key()) == "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c");
  const std::vector<std::uint8_t> message{0x72};
  const auto signature = key.sign(message);
  BOOST_REQUIRE(signature);
  BOOST_TEST(hex_encode(*signature) ==
             "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eae"
             "b4302aeeb00d291612bb0c00");
}

BOOST_AUTO_TEST_CASE(round_trip_and_rejections) {
  std::vector<std::uint8_t> seed(32);
  for (std::size_t i = 0; i < seed.size(); ++i) seed[i] = static_cast<std::uint8_t>(i * 7 + 1);
  const auto key = ed25519_signing_key::from_seed(seed);
  BOOST_REQUIRE(key);
  const auto signature = key->sign(bytes_of("callsign audit checkpoint"));
  BOOST_REQUIRE(signature);
  BOOST_TEST(ed25519_verify(key->public_key(), bytes_of("callsign audit checkpoint"), *signature));
  // Deterministic.
  const auto again = key->sign(bytes_of("callsign audit checkpoint"));
  BOOST_REQUIRE(again);
  BOOST_TEST(*again == *signature);
  // Another message, a flipped signature bit, a truncated signature, another key: all false.
  BOOST_TEST(!ed25519_verify(key->public_key(), bytes_of("callsign audit checkpoinT"), *signature));
  auto flipped = *signature;
  flipped[10] ^= 0x01U;
  BOOST_TEST(!ed25519_verify(key->public_key(), bytes_of("callsign audit checkpoint"), flipped));
  BOOST_TEST(!ed25519_verify(key->public_key(), bytes_of("callsign audit checkpoint"),
                             std::span<const std::uint8_t>(signature->data(), 63)));
  seed[0] ^= 0x80U;
  const auto other = ed25519_signing_key::from_seed(seed);
  BOOST_REQUIRE(other);
  BOOST_TEST(!ed25519_verify(other->public_key(), bytes_of("callsign audit checkpoint"), *signature));
}

BOOST_AUTO_TEST_CASE(seed_must_be_32_bytes) {
  const std::vector<std::uint8_t> short_seed(31);
  const auto key = ed25519_signing_key::from_seed(short_seed);
  BOOST_REQUIRE(!key);
  BOOST_TEST((key.error().kind == callsign::error_kind::invalid_input));
}

BOOST_AUTO_TEST_CASE(moved_from_key_fails_as_a_value) {
  auto key = key_from_hex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
  const auto moved = std::move(key);
  BOOST_TEST(moved.sign({}).has_value());
  BOOST_TEST(!key.sign({}).has_value());  // NOLINT(bugprone-use-after-move): the contract under test
}

BOOST_AUTO_TEST_SUITE_END()
