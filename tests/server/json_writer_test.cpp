#include "server/json_writer.hpp"

#include <boost/test/unit_test.hpp>

#include "server/problem.hpp"
#include "server/query_string.hpp"

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
