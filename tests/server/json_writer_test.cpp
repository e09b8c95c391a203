#include "server/json_writer.hpp"

#include <boost/test/unit_test.hpp>

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

BOOST_AUTO_TEST_SUITE_END()
