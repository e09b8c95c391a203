#include "storage/database.hpp"

#include <boost/test/unit_test.hpp>

#include "support/temp_directory.hpp"

using namespace callsign;

BOOST_AUTO_TEST_SUITE(database_suite)

BOOST_AUTO_TEST_CASE(put_get_survives_reopen) {
  test::temp_directory dir;
  {
    auto db = storage::database::open({dir.path() / "db", true});
    BOOST_REQUIRE(db);
    BOOST_TEST((*db)->healthy());
    BOOST_REQUIRE((*db)->put(storage::column_family::users, "u1", "record"));
    auto absent = (*db)->get(storage::column_family::users, "nobody");
    BOOST_REQUIRE(absent);
    BOOST_TEST(!absent->has_value());
  }
  auto db = storage::database::open({dir.path() / "db", true});
  BOOST_REQUIRE(db);
  auto value = (*db)->get(storage::column_family::users, "u1");
  BOOST_REQUIRE(value);
  BOOST_REQUIRE(value->has_value());
  BOOST_TEST(**value == "record");
  // Column families are separate key spaces.
  auto other = (*db)->get(storage::column_family::audit, "u1");
  BOOST_REQUIRE(other);
  BOOST_TEST(!other->has_value());
}

BOOST_AUTO_TEST_CASE(second_open_of_same_directory_is_an_error_value) {
  test::temp_directory dir;
  auto first = storage::database::open({dir.path() / "db", true});
  BOOST_REQUIRE(first);
  auto second = storage::database::open({dir.path() / "db", true});
  BOOST_REQUIRE(!second);
  // conflict, not unavailable: tools tell "callsignd holds it" apart from a broken database.
  BOOST_TEST((second.error().kind == error_kind::conflict));
  BOOST_TEST(second.error().message.find("is in use by another process or instance") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(refuses_missing_directory_without_create) {
  test::temp_directory dir;
  auto db = storage::database::open({dir.path() / "absent", false});
  BOOST_TEST(!db);
}

BOOST_AUTO_TEST_SUITE_END()
