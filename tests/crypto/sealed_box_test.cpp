#include "crypto/sealed_box.hpp"

#include <boost/test/unit_test.hpp>
#include <set>
#include <string>
#include <vector>

#include "crypto/hex.hpp"
#include "crypto/key_derivation.hpp"

using namespace callsign;
using namespace callsign::crypto;

namespace {

std::vector<std::uint8_t> from_hex(std::string_view text) {
  auto bytes = hex_decode(text);
  BOOST_TEST_REQUIRE(bytes.has_value());
  return std::move(bytes).value();
}

std::span<const std::uint8_t> as_bytes(std::string_view text) {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

std::array<std::uint8_t, sealed_key_size> test_key(std::uint8_t fill) {
  std::array<std::uint8_t, sealed_key_size> key{};
  key.fill(fill);
  return key;
}

std::string to_string(const std::vector<std::uint8_t>& bytes) {
  return {bytes.begin(), bytes.end()};
}

key_ring test_ring(std::string_view text) {
  auto ring = key_ring::parse(text);
  BOOST_TEST_REQUIRE(ring.has_value());
  return std::move(ring).value();
}

const std::string ring_v1 = "1 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n";
const std::string ring_v1_v2 = ring_v1 + "2 202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f\n";

void expect_authentication_failure(const result<std::vector<std::uint8_t>>& opened) {
  BOOST_TEST_REQUIRE(!opened.has_value());
  BOOST_TEST((opened.error().kind == error_kind::invalid_input));
  BOOST_TEST(opened.error().message == "sealed data failed authentication");
}

}  // namespace

BOOST_AUTO_TEST_SUITE(sealed_box_tests)

// McGrew & Viega, "The Galois/Counter Mode of Operation", test cases 13, 14 and 16 (AES-256);
// case 16 also checked with Python's cryptography AESGCM.
BOOST_AUTO_TEST_CASE(aes256_gcm_known_answers) {
  const std::array<std::uint8_t, 32> zero_key{};
  const std::array<std::uint8_t, 12> zero_nonce{};
  const auto empty = aes256_gcm_encrypt(zero_key, zero_nonce, {}, {});
  BOOST_TEST_REQUIRE(empty.has_value());
  BOOST_TEST(hex_encode(as_bytes(*empty)) == "530f8afbc74536b9a963b4f1c4cb738b");

  const std::array<std::uint8_t, 16> zero_block{};
  const auto block = aes256_gcm_encrypt(zero_key, zero_nonce, zero_block, {});
  BOOST_TEST_REQUIRE(block.has_value());
  BOOST_TEST(hex_encode(as_bytes(*block)) == "cea7403d4d606b6e074ec5d3baf39d18d0d1c8a799996bf0265b98b5d48ab919");

  const auto key = from_hex("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308");
  const auto nonce = from_hex("cafebabefacedbaddecaf888");
  const auto plain = from_hex(
      "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657"
      "ba637b39");
  const auto aad = from_hex("feedfacedeadbeeffeedfacedeadbeefabaddad2");
  const std::string expected =
      "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0"
      "abcc9f662"
      "76fc6ece0f4e1768cddf8853bb2d551b";
  const std::span<const std::uint8_t, 32> key_span(key.data(), 32);
  const std::span<const std::uint8_t, 12> nonce_span(nonce.data(), 12);
  const auto sealed = aes256_gcm_encrypt(key_span, nonce_span, plain, aad);
  BOOST_TEST_REQUIRE(sealed.has_value());
  BOOST_TEST(hex_encode(as_bytes(*sealed)) == expected);

  const auto opened = aes256_gcm_decrypt(key_span, nonce_span, as_bytes(*sealed), aad);
  BOOST_TEST_REQUIRE(opened.has_value());
  BOOST_TEST((*opened == plain));
  const auto wrong_aad = aes256_gcm_decrypt(key_span, nonce_span, as_bytes(*sealed), {});
  expect_authentication_failure(wrong_aad);
}

BOOST_AUTO_TEST_CASE(seal_round_trips_with_layout_and_fresh_nonces) {
  const auto key = test_key(7);
  const std::string secret = "JBSWY3DPEHPK3PXP";
  const auto blob = seal(key, as_bytes(secret), "user-42");
  BOOST_TEST_REQUIRE(blob.has_value());
  BOOST_TEST(blob->size() == 1 + sealed_nonce_size + secret.size() + sealed_tag_size);
  BOOST_TEST(static_cast<std::uint8_t>(blob->front()) == sealed_format_raw_key);
  BOOST_TEST(blob->find(secret) == std::string::npos);

  const auto opened = open_sealed(key, *blob, "user-42");
  BOOST_TEST_REQUIRE(opened.has_value());
  BOOST_TEST(to_string(*opened) == secret);

  std::set<std::string> nonces;
  for (int i = 0; i < 50; ++i) {
    const auto again = seal(key, as_bytes(secret), "user-42");
    BOOST_TEST_REQUIRE(again.has_value());
    nonces.insert(again->substr(1, sealed_nonce_size));
  }
  BOOST_TEST(nonces.size() == 50U);

  const auto empty = seal(key, {}, "");
  BOOST_TEST_REQUIRE(empty.has_value());
  const auto opened_empty = open_sealed(key, *empty, "");
  BOOST_TEST_REQUIRE(opened_empty.has_value());
  BOOST_TEST(opened_empty->empty());
}

BOOST_AUTO_TEST_CASE(wrong_associated_data_or_key_fails_without_detail) {
  const auto key = test_key(7);
  const auto blob = seal(key, as_bytes("secret"), "user-42");
  BOOST_TEST_REQUIRE(blob.has_value());
  expect_authentication_failure(open_sealed(key, *blob, "user-43"));
  expect_authentication_failure(open_sealed(key, *blob, ""));
  expect_authentication_failure(open_sealed(test_key(8), *blob, "user-42"));
}

BOOST_AUTO_TEST_CASE(every_flipped_bit_is_detected) {
  const auto key = test_key(9);
  const auto blob = seal(key, as_bytes("0123456789"), "ad");
  BOOST_TEST_REQUIRE(blob.has_value());
  // Skip byte 0: changing the format byte is "malformed", checked below.
  for (std::size_t i = 1; i < blob->size(); ++i) {
    for (unsigned bit = 0; bit < 8; ++bit) {
      std::string tampered = *blob;
      tampered[i] = static_cast<char>(static_cast<unsigned char>(tampered[i]) ^ (1U << bit));
      const auto opened = open_sealed(key, tampered, "ad");
      BOOST_TEST_REQUIRE(!opened.has_value());
      BOOST_TEST(opened.error().message == "sealed data failed authentication");
    }
  }
}

BOOST_AUTO_TEST_CASE(truncated_extended_or_unknown_format_is_refused) {
  const auto key = test_key(9);
  const auto blob = seal(key, as_bytes("0123456789"), "ad");
  BOOST_TEST_REQUIRE(blob.has_value());
  for (std::size_t length = 0; length < blob->size(); ++length) {
    BOOST_TEST(!open_sealed(key, blob->substr(0, length), "ad").has_value());
  }
  BOOST_TEST(!open_sealed(key, *blob + "x", "ad").has_value());
  std::string other_format = *blob;
  other_format[0] = static_cast<char>(sealed_format_key_ring);
  const auto opened = open_sealed(key, other_format, "ad");
  BOOST_TEST_REQUIRE(!opened.has_value());
  BOOST_TEST(opened.error().message == "sealed data is malformed");
}

BOOST_AUTO_TEST_CASE(ring_blob_records_the_current_version_and_opens_after_rotation) {
  const key_ring old_ring = test_ring(ring_v1);
  const auto blob = seal_with_ring(old_ring, as_bytes("secret"), "user-42");
  BOOST_TEST_REQUIRE(blob.has_value());
  BOOST_TEST(blob->size() == 5 + sealed_nonce_size + 6 + sealed_tag_size);
  BOOST_TEST(static_cast<std::uint8_t>((*blob)[0]) == sealed_format_key_ring);
  BOOST_TEST(hex_encode(as_bytes(blob->substr(1, 4))) == "00000001");
  BOOST_TEST(sealed_key_version(*blob).value() == 1U);

  const key_ring new_ring = test_ring(ring_v1_v2);
  const auto opened = open_with_ring(new_ring, *blob, "user-42");
  BOOST_TEST_REQUIRE(opened.has_value());
  BOOST_TEST(to_string(*opened) == "secret");

  // Re-sealing after rotation moves the blob to the new version.
  const auto resealed = seal_with_ring(new_ring, *opened, "user-42");
  BOOST_TEST_REQUIRE(resealed.has_value());
  BOOST_TEST(sealed_key_version(*resealed).value() == 2U);
  const auto reopened = open_with_ring(new_ring, *resealed, "user-42");
  BOOST_TEST_REQUIRE(reopened.has_value());
  BOOST_TEST(to_string(*reopened) == "secret");
  expect_authentication_failure(open_with_ring(new_ring, *resealed, "user-43"));
}

BOOST_AUTO_TEST_CASE(ring_blob_with_wrong_or_missing_version_fails) {
  const key_ring ring = test_ring(ring_v1_v2);
  const auto blob = seal_with_ring(ring, as_bytes("secret"), "ad");
  BOOST_TEST_REQUIRE(blob.has_value());

  // Claiming version 1 for a version-2 blob: different derived key, tag fails.
  std::string relabelled = *blob;
  relabelled[4] = 1;
  expect_authentication_failure(open_with_ring(ring, relabelled, "ad"));

  // A ring without version 2 cannot open it and says which version is missing.
  const auto opened = open_with_ring(test_ring(ring_v1), *blob, "ad");
  BOOST_TEST_REQUIRE(!opened.has_value());
  BOOST_TEST((opened.error().kind == error_kind::not_found));
  BOOST_TEST(opened.error().message.find("version 2") != std::string::npos);

  // Raw and ring blobs are not interchangeable.
  const auto raw = seal(test_key(1), as_bytes("secret"), "ad");
  BOOST_TEST_REQUIRE(raw.has_value());
  BOOST_TEST(!open_with_ring(ring, *raw, "ad").has_value());
  BOOST_TEST(!sealed_key_version(*raw).has_value());
}

// The ring's sealing key is derive_key(master_v, "callsign authenticator-seal", {}): a blob
// sealed under that raw key with the ring header as AAD prefix must open with the ring.
BOOST_AUTO_TEST_CASE(ring_sealing_key_is_the_documented_derivation) {
  const key_ring ring = test_ring(ring_v1);
  const derived_key key = derive_key(ring.current(), authenticator_seal_label, {});
  const std::array<std::uint8_t, 12> nonce{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  const std::string header("\x02\x00\x00\x00\x01", 5);
  const std::string aad = header + "user-42";
  const auto body = aes256_gcm_encrypt(key, nonce, as_bytes("secret"), as_bytes(aad));
  BOOST_TEST_REQUIRE(body.has_value());
  const std::string blob = header + std::string(nonce.begin(), nonce.end()) + *body;
  const auto opened = open_with_ring(ring, blob, "user-42");
  BOOST_TEST_REQUIRE(opened.has_value());
  BOOST_TEST(to_string(*opened) == "secret");
}

BOOST_AUTO_TEST_SUITE_END()
