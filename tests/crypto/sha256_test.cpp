#include "crypto/sha256.hpp"

#include <boost/test/unit_test.hpp>
#include <string>
#include <vector>

#include "crypto/hex.hpp"

using namespace callsign::crypto;

namespace {
std::span<const std::uint8_t> bytes_of(std::string_view text) {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}
}  // namespace

BOOST_AUTO_TEST_SUITE(sha256_tests)

// FIPS 180-2 appendix B examples (also `printf ... | sha256sum`).
BOOST_AUTO_TEST_CASE(fips_180_vectors) {
  BOOST_TEST(hex_encode(sha256(std::string_view())) ==
             "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  BOOST_TEST(hex_encode(sha256(std::string_view("abc"))) ==
             "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  BOOST_TEST(hex_encode(sha256(std::string_view("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"))) ==
             "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  const std::string million(1000000, 'a');
  BOOST_TEST(hex_encode(sha256(million)) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

BOOST_AUTO_TEST_CASE(parts_hash_like_their_concatenation) {
  const std::vector<std::uint8_t> empty;
  BOOST_TEST(sha256({bytes_of("ab"), empty, bytes_of("c")}) == sha256(std::string_view("abc")));
  BOOST_TEST(sha256(bytes_of("abc")) == sha256(std::string_view("abc")));
  BOOST_TEST(sha256(std::string_view("abd")) != sha256(std::string_view("abc")));
}

BOOST_AUTO_TEST_SUITE_END()
