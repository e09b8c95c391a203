#include "crypto/hash_algorithm.hpp"

#include <boost/test/unit_test.hpp>

using namespace callsign::crypto;

BOOST_AUTO_TEST_SUITE(hash_algorithm_tests)

BOOST_AUTO_TEST_CASE(parses_names_in_any_case) {
  BOOST_TEST((parse_hash_algorithm("SHA1").value() == hash_algorithm::sha1));
  BOOST_TEST((parse_hash_algorithm("sha256").value() == hash_algorithm::sha256));
  BOOST_TEST((parse_hash_algorithm("Sha512").value() == hash_algorithm::sha512));
}

BOOST_AUTO_TEST_CASE(rejects_other_names) {
  for (const char* text : {"", "SHA", "SHA-1", "SHA384", "MD5", "sha1 ", " sha1"}) {
    const auto parsed = parse_hash_algorithm(text);
    BOOST_TEST(!parsed.has_value(), text);
    BOOST_TEST((parsed.error().kind == callsign::error_kind::invalid_input));
  }
}

BOOST_AUTO_TEST_CASE(names_and_sizes) {
  BOOST_TEST(name(hash_algorithm::sha1) == "SHA1");
  BOOST_TEST(name(hash_algorithm::sha256) == "SHA256");
  BOOST_TEST(name(hash_algorithm::sha512) == "SHA512");
  BOOST_TEST(digest_size(hash_algorithm::sha1) == 20U);
  BOOST_TEST(digest_size(hash_algorithm::sha256) == 32U);
  BOOST_TEST(digest_size(hash_algorithm::sha512) == 64U);
  const auto forged = static_cast<hash_algorithm>(7);
  BOOST_TEST(!is_valid(forged));
  BOOST_TEST(name(forged) == "unknown");
}

BOOST_AUTO_TEST_SUITE_END()
