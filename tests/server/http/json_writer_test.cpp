#include "server/http/json_writer.hpp"

#include <boost/test/unit_test.hpp>
#include <limits>

#include "server/http/problem.hpp"
#include "server/http/query_string.hpp"

using namespace callsign::server;

BOOST_AUTO_TEST_SUITE(json_writer_suite)

BOOST_AUTO_TEST_CASE(writes_nested_values) {
  json_writer w;
  w.begin_object()
      .field("s", "a\"b\\c\n\x01")
      .field("n", std::int64_t{-5})
      .field("b", true)
      .key("list")
      .begin_array()
      .value(1)
      .value(2)
      .end_array()
      .key("none")
      .null()
      .end_object();
  BOOST_TEST(w.str() == R"({"s":"a\"b\\c\n\u0001","n":-5,"b":true,"list":[1,2],"none":null})");
}

BOOST_AUTO_TEST_CASE(writes_numbers_and_non_finite_as_null) {
  json_writer w;
  w.begin_array()
      .value(std::numeric_limits<std::int64_t>::min())
      .value(std::numeric_limits<std::uint64_t>::max())
      .value(0.5)
      .value(std::numeric_limits<double>::quiet_NaN())
      .value(-std::numeric_limits<double>::infinity())
      .value(false)
      .raw(R"({"a":[]})")
      .begin_object()
      .end_object()
      .begin_array()
      .end_array()
      .value(1)
      .end_array();
  // An empty object or array is a value too: a comma follows it.
  BOOST_TEST(w.str() == R"([-9223372036854775808,18446744073709551615,0.5,null,null,false,{"a":[]},{},[],1])");
}

// String escaping itself is storage::append_json_string's (tests/storage/json_text_test.cpp);
// these check that the writer and the problem path use it.
BOOST_AUTO_TEST_CASE(problem_for_a_non_utf8_query_name_is_utf8) {
  auto refused = query_only("afte\xf2=1", {"after"});
  BOOST_REQUIRE(!refused.has_value());
  const auto body = error_response(refused.error()).body;
  BOOST_TEST(body.find('\xf2') == std::string::npos);
  BOOST_TEST(body.find("unknown query parameter 'afte\xef\xbf\xbd'") != std::string::npos);  // U+FFFD
}

BOOST_AUTO_TEST_SUITE_END()
