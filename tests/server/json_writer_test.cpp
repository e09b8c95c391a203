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

// Found by tests/fuzz/routes_fuzz: "GET /v1/audit?afte\xf2=1" answered 400 with the raw byte
// in the problem detail, which is not valid JSON. Bytes that are not UTF-8 become U+FFFD.
BOOST_AUTO_TEST_CASE(replaces_bytes_that_are_not_utf8) {
  std::string out;
  append_json_string(out, "a\xf2z");
  BOOST_TEST(out == R"("a\ufffdz")");
  out.clear();
  append_json_string(out, "\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");  // é € 😀 stay as they are
  BOOST_TEST(out == "\"\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
  out.clear();
  // Overlong '/', a UTF-16 surrogate, a code point above U+10FFFF, a lone continuation byte,
  // and a sequence cut short (as truncating a name at a byte count does).
  append_json_string(out, "\xc0\xaf|\xed\xa0\x80|\xf4\x90\x80\x80|\x80|\xe2\x82");
  BOOST_TEST(out == R"("\ufffd\ufffd|\ufffd\ufffd\ufffd|\ufffd\ufffd\ufffd\ufffd|\ufffd|\ufffd\ufffd")");
}

BOOST_AUTO_TEST_CASE(problem_for_a_non_utf8_query_name_is_utf8) {
  auto refused = query_only("afte\xf2=1", {"after"});
  BOOST_REQUIRE(!refused.has_value());
  const auto body = error_response(refused.error()).body;
  BOOST_TEST(body.find('\xf2') == std::string::npos);
  BOOST_TEST(body.find(R"(unknown query parameter 'afte\ufffd')") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
