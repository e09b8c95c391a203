#include "crypto/key_ring.hpp"

#include <boost/test/unit_test.hpp>
#include <string>
#include <vector>

#include "crypto/hex.hpp"

using namespace callsign::crypto;

namespace {

// Boost evaluates a check's message even when the check passes, so read the error lazily.
template <class T>
std::string error_text(const callsign::result<T>& r) {
  return r.has_value() ? std::string() : r.error().message;
}

std::string key_a() {
  return "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
}
std::string key_b() {
  return "FFEEDDCCBBAA99887766554433221100ffeeddccbbaa99887766554433221100";
}

std::string parse_error(std::string_view text) {
  const auto ring = key_ring::parse(text);
  BOOST_TEST_REQUIRE(!ring.has_value());
  BOOST_TEST((ring.error().kind == callsign::error_kind::invalid_input));
  return ring.error().message;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(key_ring_tests)

BOOST_AUTO_TEST_CASE(parses_versions_comments_and_blank_lines) {
  const std::string text = "# master keys\n\n  2\t" + key_b() + "  \r\n   # indented comment\n1 " + key_a() + "\n\n";
  const auto ring = key_ring::parse(text);
  BOOST_TEST_REQUIRE(ring.has_value(), error_text(ring));
  BOOST_TEST((ring->versions() == std::vector<std::uint32_t>{1, 2}));
  BOOST_TEST(ring->current().version == 2U);
  BOOST_TEST(hex_encode(ring->current().bytes) == "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100");
  BOOST_TEST_REQUIRE(ring->find(1) != nullptr);
  BOOST_TEST(hex_encode(ring->find(1)->bytes) == key_a());
  BOOST_TEST(ring->find(3) == nullptr);
  BOOST_TEST(ring->find(0) == nullptr);
}

BOOST_AUTO_TEST_CASE(accepts_a_last_line_without_newline) {
  const auto ring = key_ring::parse("7 " + key_a());
  BOOST_TEST_REQUIRE(ring.has_value());
  BOOST_TEST(ring->current().version == 7U);
}

BOOST_AUTO_TEST_CASE(errors_name_the_line_but_not_the_key) {
  BOOST_TEST(parse_error("1 " + key_a() + "\n\n1 " + key_b()) == "key ring line 3: version 1 appears twice");
  BOOST_TEST(parse_error("# c\n0 " + key_a()) ==
             "key ring line 2: the version must be a whole number from 1 to 4294967295");
  BOOST_TEST(parse_error("-1 " + key_a()) ==
             "key ring line 1: the version must be a whole number from 1 to 4294967295");
  BOOST_TEST(parse_error("4294967296 " + key_a()) ==
             "key ring line 1: the version must be a whole number from 1 to 4294967295");
  BOOST_TEST(parse_error("v1 " + key_a()) ==
             "key ring line 1: the version must be a whole number from 1 to 4294967295");
  BOOST_TEST(parse_error("1 " + key_a().substr(2)) == "key ring line 1: the key must be exactly 64 hex characters");
  BOOST_TEST(parse_error("1 " + key_a() + "00") == "key ring line 1: the key must be exactly 64 hex characters");
  BOOST_TEST(parse_error("1 " + key_a().substr(0, 63) + "g") ==
             "key ring line 1: the key must be exactly 64 hex characters");
  BOOST_TEST(parse_error("\n\n1 " + key_a() + " extra") ==
             "key ring line 3: the creation time must be whole unix seconds");
  BOOST_TEST(parse_error("1 " + key_a() + " -5") == "key ring line 1: the creation time must be whole unix seconds");
  BOOST_TEST(parse_error("1 " + key_a() + " 5 6") == "key ring line 1: the creation time must be whole unix seconds");
  BOOST_TEST(parse_error("1" + key_a()) == "key ring line 1: expected '<version> <64 hex characters>'");
  BOOST_TEST(parse_error("garbage") == "key ring line 1: expected '<version> <64 hex characters>'");
  BOOST_TEST(parse_error("") == "key ring holds no keys");
  BOOST_TEST(parse_error("# only a comment\n\n") == "key ring holds no keys");

  const std::string message = parse_error("1 " + key_a().substr(0, 62) + "zz");
  BOOST_TEST(message.find(key_a().substr(0, 16)) == std::string::npos);
}

BOOST_AUTO_TEST_CASE(serialize_round_trips) {
  const auto ring = key_ring::parse("2 " + key_b() + "\n1 " + key_a() + "\n");
  BOOST_TEST_REQUIRE(ring.has_value());
  const std::string text = ring->serialize();
  BOOST_TEST(text.find("1 " + key_a() + "\n2 ffeeddcc") != std::string::npos);  // sorted, lower case
  const auto again = key_ring::parse(text);
  BOOST_TEST_REQUIRE(again.has_value());
  BOOST_TEST(again->serialize() == text);
}

BOOST_AUTO_TEST_CASE(generate_makes_version_1_from_random_bytes) {
  const auto first = key_ring::generate();
  const auto second = key_ring::generate();
  BOOST_TEST_REQUIRE(first.has_value());
  BOOST_TEST_REQUIRE(second.has_value());
  BOOST_TEST((first->versions() == std::vector<std::uint32_t>{1}));
  BOOST_TEST(first->current().version == 1U);
  BOOST_TEST((first->current().bytes != second->current().bytes));
  const auto reparsed = key_ring::parse(first->serialize());
  BOOST_TEST_REQUIRE(reparsed.has_value());
  BOOST_TEST((reparsed->current().bytes == first->current().bytes));
}

BOOST_AUTO_TEST_CASE(rotated_adds_the_next_version_and_keeps_the_old_ones) {
  const auto ring = key_ring::parse("1 " + key_a() + "\n5 " + key_b() + "\n");
  BOOST_TEST_REQUIRE(ring.has_value());
  const auto rotated = ring->rotated();
  BOOST_TEST_REQUIRE(rotated.has_value());
  BOOST_TEST((rotated->versions() == std::vector<std::uint32_t>{1, 5, 6}));
  BOOST_TEST(rotated->current().version == 6U);
  BOOST_TEST(hex_encode(rotated->find(1)->bytes) == key_a());
  BOOST_TEST((rotated->current().bytes != ring->current().bytes));
  BOOST_TEST(ring->current().version == 5U);  // the original is unchanged
}

BOOST_AUTO_TEST_CASE(rotation_records_the_creation_time_and_serialize_keeps_it) {
  const auto ring = key_ring::parse("1 " + key_a() + "\n");
  BOOST_TEST_REQUIRE(ring.has_value());
  BOOST_TEST(ring->current().created_at == 0);
  BOOST_TEST(ring->previous() == nullptr);
  const auto rotated = ring->rotated(1'764'000'000);
  BOOST_TEST_REQUIRE(rotated.has_value());
  BOOST_TEST(rotated->current().created_at == 1'764'000'000);
  BOOST_TEST_REQUIRE(rotated->previous() != nullptr);
  BOOST_TEST(rotated->previous()->version == 1U);
  const std::string text = rotated->serialize();
  BOOST_TEST(text.find("1 " + key_a() + "\n") != std::string::npos);  // unknown time: two fields
  BOOST_TEST(text.find(" 1764000000\n") != std::string::npos);
  const auto again = key_ring::parse(text);
  BOOST_TEST_REQUIRE(again.has_value(), error_text(again));
  BOOST_TEST(again->current().created_at == 1'764'000'000);
  BOOST_TEST(again->find(1)->created_at == 0);
  BOOST_TEST(again->serialize() == text);
}

BOOST_AUTO_TEST_CASE(previous_is_the_second_highest_version) {
  const auto ring = key_ring::parse("3 " + key_a() + " 10\n9 " + key_b() + " 20\n1 " + key_a() + "\n");
  BOOST_TEST_REQUIRE(ring.has_value(), error_text(ring));
  BOOST_TEST(ring->current().version == 9U);
  BOOST_TEST_REQUIRE(ring->previous() != nullptr);
  BOOST_TEST(ring->previous()->version == 3U);
  BOOST_TEST(ring->previous()->created_at == 10);
}

BOOST_AUTO_TEST_CASE(rotation_stops_at_the_last_version) {
  const auto ring = key_ring::parse("4294967295 " + key_a());
  BOOST_TEST_REQUIRE(ring.has_value());
  const auto rotated = ring->rotated();
  BOOST_TEST_REQUIRE(!rotated.has_value());
  BOOST_TEST((rotated.error().kind == callsign::error_kind::conflict));
}

BOOST_AUTO_TEST_SUITE_END()
