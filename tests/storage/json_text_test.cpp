// The tree's one JSON string escaper (storage/json_text.hpp): audit entries and every server
// response, problem and log line go through it, so its escaping is tested here and only here.
#include "storage/json_text.hpp"

#include <simdjson.h>

#include <boost/test/unit_test.hpp>
#include <string>
#include <string_view>

using callsign::storage::append_json_string;

namespace {

std::string escaped(std::string_view text) {
  std::string out;
  append_json_string(out, text);
  return out;
}

// What a real JSON parser reads back from the escaped text.
std::string parsed(const std::string& json) {
  simdjson::ondemand::parser parser;
  simdjson::padded_string padded(json);
  auto doc = parser.iterate(padded);
  std::string_view value;
  BOOST_REQUIRE_MESSAGE(doc.get_string().get(value) == simdjson::SUCCESS, "not a JSON string: " << json);
  return std::string(value);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(json_text_suite)

BOOST_AUTO_TEST_CASE(quotes_and_backslash_are_escaped) {
  BOOST_TEST(escaped(R"(a"b\c)") == R"("a\"b\\c")");
  BOOST_TEST(escaped("") == R"("")");
  BOOST_TEST(escaped("/") == R"("/")");  // '/' needs no escape and gets none: one spelling
}

BOOST_AUTO_TEST_CASE(control_characters_use_the_short_form_or_u00xx) {
  BOOST_TEST(escaped("\b\f\n\r\t") == R"("\b\f\n\r\t")");
  BOOST_TEST(escaped(std::string_view("a\0b", 3)) == R"("a\u0000b")");  // NUL does not end the string
  BOOST_TEST(escaped("\x01\x1f\x0b\x1b") == R"("\u0001\u001f\u000b\u001b")");
  BOOST_TEST(escaped("\x7f ~") == "\"\x7f ~\"");  // DEL is not a JSON control character
}

BOOST_AUTO_TEST_CASE(appends_to_what_is_there) {
  std::string out = "{\"k\":";
  append_json_string(out, "v");
  BOOST_TEST(out == R"({"k":"v")");
}

BOOST_AUTO_TEST_CASE(every_ascii_byte_round_trips_through_a_parser) {
  std::string all;
  for (int c = 0; c < 0x80; ++c) all.push_back(static_cast<char>(c));
  const auto json = escaped(all);
  for (char c : json.substr(1, json.size() - 2)) {
    BOOST_TEST(static_cast<unsigned char>(c) >= 0x20, "raw control byte " << int(c) << " in the output");
  }
  BOOST_TEST(parsed(json) == all);
}

BOOST_AUTO_TEST_CASE(valid_utf8_passes_through) {
  // U+0080, U+07FF, U+0800, U+FFFF, U+10000, U+10FFFF: the edges of each sequence length.
  const std::string edges = "\xc2\x80\xdf\xbf\xe0\xa0\x80\xef\xbf\xbf\xf0\x90\x80\x80\xf4\x8f\xbf\xbf";
  BOOST_TEST(escaped(edges) == "\"" + edges + "\"");
  const std::string words = "\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80";  // é € 😀
  BOOST_TEST(escaped(words) == "\"" + words + "\"");
  BOOST_TEST(parsed(escaped(edges + words)) == edges + words);
}

// Found by tests/fuzz/routes_fuzz: "GET /v1/audit?afte\xf2=1" answered 400 with the raw byte in
// the problem detail, which is not valid JSON. Each byte of an ill-formed sequence becomes U+FFFD.
BOOST_AUTO_TEST_CASE(bytes_that_are_not_utf8_become_u_fffd) {
  const std::string r = "\xef\xbf\xbd";  // U+FFFD
  BOOST_TEST(escaped("a\xf2z") == "\"a" + r + "z\"");
  // Overlong '/', a UTF-16 surrogate, a code point above U+10FFFF, a lone continuation byte,
  // and a sequence cut short (as truncating a name at a byte count does).
  const std::string bad = "\xc0\xaf|\xed\xa0\x80|\xf4\x90\x80\x80|\x80|\xe2\x82";
  const std::string expected = "\"" + r + r + "|" + r + r + r + "|" + r + r + r + r + "|" + r + "|" + r + r + "\"";
  BOOST_TEST(escaped(bad) == expected);
  BOOST_TEST(parsed(escaped(bad)) == expected.substr(1, expected.size() - 2));
}

BOOST_AUTO_TEST_SUITE_END()
