#include "lists_test_support.hpp"
#include "storage/lists/device_set.hpp"

using namespace callsign;
using namespace callsign::storage;

BOOST_AUTO_TEST_SUITE(lists_device_set)

BOOST_AUTO_TEST_CASE(serials_with_comments_and_duplicates) {
  auto set = device_set::parse("# managed fleet\n  C02XK0AAJG5H  \nR58M12ABCDE # tablet\n\nC02XK0AAJG5H\nsn:42/a+b=\n");
  BOOST_TEST_REQUIRE(set.has_value(), test::error_text(set));
  BOOST_TEST(set->entries() == 3U);
  BOOST_TEST(set->contains("C02XK0AAJG5H"));
  BOOST_TEST(set->contains("R58M12ABCDE"));
  BOOST_TEST(set->contains("sn:42/a+b="));
  BOOST_TEST(!set->contains("c02xk0aajg5h"));  // exact match
  BOOST_TEST(!set->contains(""));
  BOOST_TEST(!set->contains("UNKNOWN"));
}

BOOST_AUTO_TEST_CASE(a_bad_serial_rejects_the_file_with_its_line) {
  auto set = device_set::parse("GOOD1\nGOOD2\nbad serial with spaces\nGOOD3\n");
  BOOST_TEST_REQUIRE(!set.has_value());
  BOOST_TEST(set.error().message.rfind("line 3:", 0) == 0U, set.error().message);
  BOOST_TEST(set.error().message.find("spaces") == std::string::npos);
  auto long_one = device_set::parse(std::string(129, 'A') + "\n");
  BOOST_TEST_REQUIRE(!long_one.has_value());
  BOOST_TEST(long_one.error().message.rfind("line 1:", 0) == 0U);
}

BOOST_AUTO_TEST_SUITE_END()
