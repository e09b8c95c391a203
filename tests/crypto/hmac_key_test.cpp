#include "crypto/hmac_key.hpp"

#include <boost/test/unit_test.hpp>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "crypto/hex.hpp"

using namespace callsign::crypto;

namespace {

std::span<const std::uint8_t> bytes_of(std::string_view text) {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

std::string hmac_hex(hash_algorithm algorithm, std::span<const std::uint8_t> key, std::string_view message) {
  const auto created = hmac_key::create(algorithm, key);
  BOOST_TEST_REQUIRE(created.has_value());
  return hex_encode(created->sign(bytes_of(message)).view());
}

}  // namespace

BOOST_AUTO_TEST_SUITE(hmac_key_tests)

// RFC 4226 Appendix D, Table 1: HMAC-SHA-1(secret, 8-byte big-endian count).
BOOST_AUTO_TEST_CASE(rfc4226_intermediate_hmac_values) {
  const std::vector<std::string> expected{
      "cc93cf18508d94934c64b65d8ba7667fb7cde4b0", "75a48a19d4cbe100644e8ac1397eea747a2d33ab",
      "0bacb7fa082fef30782211938bc1c5e70416ff44", "66c28227d03a2d5529262ff016a1e6ef76557ece",
      "a904c900a64b35909874b33e61c5938a8e15ed1c", "a37e783d7b7233c083d4f62926c7a25f238d0316",
      "bc9cd28561042c83f219324d3c607256c03272ae", "a4fb960c0bc06e1eabb804e5b397cdc4b45596fa",
      "1b3c89f65e6c9e883012052823443f048b4332db", "1637409809a679dc698207310c8c7fc07290d9e5",
  };
  const auto key = hmac_key::create(hash_algorithm::sha1, bytes_of("12345678901234567890"));
  BOOST_TEST_REQUIRE(key.has_value());
  for (std::size_t count = 0; count < expected.size(); ++count) {
    const std::array<std::uint8_t, 8> counter{0, 0, 0, 0, 0, 0, 0, static_cast<std::uint8_t>(count)};
    BOOST_TEST(hex_encode(key->sign(counter).view()) == expected[count]);
  }
}

// A key longer than the block is hashed first (RFC 2104). Expected values from
// `printf '%s' "$M" | openssl dgst -<alg> -mac HMAC -macopt hexkey:<131 x aa>`, with M as
// below; the SHA-256 value equals RFC 4231 test case 6.
BOOST_AUTO_TEST_CASE(keys_longer_than_the_block) {
  const std::vector<std::uint8_t> key(131, 0xaa);
  const std::string_view message = "Test Using Larger Than Block-Size Key - Hash Key First";
  BOOST_TEST(hmac_hex(hash_algorithm::sha1, key, message) == "90d0dace1c1bdc957339307803160335bde6df2b");
  BOOST_TEST(hmac_hex(hash_algorithm::sha256, key, message) ==
             "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
  BOOST_TEST(hmac_hex(hash_algorithm::sha512, key, message) ==
             "80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f352"
             "6b56d037e05f2598bd0fd2215d6a1e5295e64f73f63f0aec8b915a985d786598");
}

// Empty key and message: `printf '' | openssl dgst -<alg> -mac HMAC -macopt hexkey:00`
// (a zero byte pads to the same block as no key at all).
BOOST_AUTO_TEST_CASE(empty_key_and_message) {
  BOOST_TEST(hmac_hex(hash_algorithm::sha1, {}, "") == "fbdb1d1b18aa6c08324b7d64b71fb76370690e1d");
  BOOST_TEST(hmac_hex(hash_algorithm::sha256, {}, "") ==
             "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

BOOST_AUTO_TEST_CASE(digest_sizes_follow_the_algorithm) {
  const std::vector<std::uint8_t> key(20, 1);
  for (auto algorithm : {hash_algorithm::sha1, hash_algorithm::sha256, hash_algorithm::sha512}) {
    const auto created = hmac_key::create(algorithm, key);
    BOOST_TEST_REQUIRE(created.has_value());
    BOOST_TEST((created->algorithm() == algorithm));
    BOOST_TEST(created->sign(bytes_of("x")).size == digest_size(algorithm));
  }
}

BOOST_AUTO_TEST_CASE(signing_parts_equals_signing_their_concatenation) {
  const auto key = hmac_key::create(hash_algorithm::sha256, bytes_of("k"));
  BOOST_TEST_REQUIRE(key.has_value());
  const auto whole = key->sign(bytes_of("hello, world"));
  const auto parts = key->sign({bytes_of("hello"), bytes_of(""), bytes_of(", world")});
  BOOST_TEST(hex_encode(whole.view()) == hex_encode(parts.view()));
}

BOOST_AUTO_TEST_CASE(rejects_forged_algorithm) {
  const auto created = hmac_key::create(static_cast<hash_algorithm>(42), bytes_of("k"));
  BOOST_TEST(!created.has_value());
}

BOOST_AUTO_TEST_CASE(moved_key_keeps_signing) {
  auto created = hmac_key::create(hash_algorithm::sha1, bytes_of("12345678901234567890"));
  BOOST_TEST_REQUIRE(created.has_value());
  hmac_key moved = std::move(created).value();
  const std::array<std::uint8_t, 8> zero{};
  BOOST_TEST(hex_encode(moved.sign(zero).view()) == "cc93cf18508d94934c64b65d8ba7667fb7cde4b0");
}

// Const signing is documented as thread-safe; run it from several threads at once (this is
// most telling under TSan) and check every result.
BOOST_AUTO_TEST_CASE(concurrent_signing) {
  const auto key = hmac_key::create(hash_algorithm::sha1, bytes_of("12345678901234567890"));
  BOOST_TEST_REQUIRE(key.has_value());
  std::vector<int> failures(4, 0);
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < failures.size(); ++t) {
    threads.emplace_back([&key, &failure = failures[t]] {
      for (int i = 0; i < 2000; ++i) {
        const std::array<std::uint8_t, 8> one{0, 0, 0, 0, 0, 0, 0, 1};
        if (hex_encode(key->sign(one).view()) != "75a48a19d4cbe100644e8ac1397eea747a2d33ab") {
          ++failure;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (int failure : failures) BOOST_TEST(failure == 0);
}

BOOST_AUTO_TEST_SUITE_END()
