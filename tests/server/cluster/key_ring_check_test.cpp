// Nodes refuse a key ring that differs from the cluster's: another key under a registered
// version, or a registered version newer than their own. A rotation adds a version: nodes that
// hold it pass, nodes that lack it are refused.
#include <boost/test/unit_test.hpp>

#include "server/cluster/key_ring_check.hpp"

using namespace callsign;
using namespace callsign::server;

BOOST_AUTO_TEST_SUITE(key_ring_check_suite)

BOOST_AUTO_TEST_CASE(same_ring_passes_and_identifiers_hide_the_key) {
  auto ring = crypto::key_ring::generate();
  BOOST_REQUIRE(ring);
  auto ids = key_ring_identifiers(*ring);
  BOOST_REQUIRE(ids.size() == 1U);
  BOOST_TEST(ids.begin()->second.size() == 32U);
  BOOST_TEST(compare_key_rings(ids, ids).has_value());
  auto reparsed = crypto::key_ring::parse(ring->serialize());
  BOOST_REQUIRE(reparsed);
  BOOST_TEST(key_ring_identifiers(*reparsed) == ids);
}

BOOST_AUTO_TEST_CASE(another_key_under_a_registered_version_is_refused) {
  auto mine = crypto::key_ring::generate();
  auto theirs = crypto::key_ring::generate();
  BOOST_REQUIRE(mine);
  BOOST_REQUIRE(theirs);
  auto refused = compare_key_rings(key_ring_identifiers(*mine), key_ring_identifiers(*theirs));
  BOOST_REQUIRE(!refused);
  BOOST_TEST(refused.error().message.find("version 1") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_rotation_is_accepted_by_nodes_holding_it_only) {
  auto old_ring = crypto::key_ring::generate();
  BOOST_REQUIRE(old_ring);
  auto new_ring = old_ring->rotated(1'700'000'000);
  BOOST_REQUIRE(new_ring);
  const auto old_ids = key_ring_identifiers(*old_ring);
  const auto new_ids = key_ring_identifiers(*new_ring);
  // The first rotated node registers version 2 next to version 1.
  BOOST_TEST(compare_key_rings(new_ids, old_ids).has_value());
  // A node restarted with the old ring now lacks the cluster's newest version.
  auto stale = compare_key_rings(old_ids, new_ids);
  BOOST_REQUIRE(!stale);
  BOOST_TEST(stale.error().message.find("version 2") != std::string::npos);
  BOOST_TEST(compare_key_rings(new_ids, new_ids).has_value());
}

BOOST_AUTO_TEST_SUITE_END()
