// state_key: the readable, unambiguous keys of counters, marks and blocks.
#include "storage/state_key.hpp"

#include <boost/test/unit_test.hpp>
#include <set>
#include <string>
#include <vector>

using namespace callsign;

BOOST_AUTO_TEST_SUITE(state_key_suite)

BOOST_AUTO_TEST_CASE(readable_keys_for_plain_parts) {
  BOOST_TEST(storage::state_key({"verify", "user", "u-42"}) == "verify/user/u-42");
  BOOST_TEST(storage::state_key({"verify", "ip", "10.0.0.1"}) == "verify/ip/10.0.0.1");
  BOOST_TEST(storage::state_key({"login", "ip6", "2001:db8::/64"}) == "login/ip6/2001:db8::%2F64");
  BOOST_TEST(storage::state_key({"a b", "100%", std::string_view("\0\xff", 2)}) == "a%20b/100%25/%00%FF");
}

BOOST_AUTO_TEST_CASE(no_two_part_lists_share_a_key) {
  const std::vector<std::string> atoms = {"", "a", "/", "%", "a/b", "%2F", "%25", std::string(1, '\0'), "ab", "b"};
  std::set<std::string> keys;
  std::size_t tuples = 0;
  std::vector<std::vector<std::string_view>> lists;
  for (const auto& x : atoms) {
    lists.push_back({x});
    for (const auto& y : atoms) {
      lists.push_back({x, y});
      for (const auto& z : atoms) {
        lists.push_back({x, y, z});
      }
    }
  }
  for (const auto& parts : lists) {
    const auto key = storage::state_key(parts);
    keys.insert(key);
    ++tuples;
    auto split = storage::split_state_key(key);
    BOOST_REQUIRE(split);
    BOOST_REQUIRE(split->size() == parts.size());
    for (std::size_t i = 0; i < parts.size(); ++i) {
      BOOST_TEST((*split)[i] == parts[i]);
    }
  }
  BOOST_TEST(keys.size() == tuples);
  // The case in the brief: a kind with a slash against an id with a slash.
  BOOST_TEST(storage::state_key({"verify/user", "x"}) != storage::state_key({"verify", "user/x"}));
}

BOOST_AUTO_TEST_CASE(split_refuses_strings_state_key_cannot_produce) {
  BOOST_TEST(!storage::split_state_key("a%2"));
  BOOST_TEST(!storage::split_state_key("a%zz"));
  BOOST_TEST(!storage::split_state_key("a%2f"));  // lower-case hex: a second spelling
  BOOST_TEST(!storage::split_state_key("a%41"));  // 'A' is never escaped
  BOOST_TEST(!storage::split_state_key("a b"));   // space must be escaped
}

BOOST_AUTO_TEST_SUITE_END()
