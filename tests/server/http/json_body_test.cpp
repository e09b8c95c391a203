#include "server/http/json_body.hpp"

#include <boost/test/unit_test.hpp>
#include <string>
#include <vector>

using namespace callsign;
using namespace callsign::server;

namespace {
http_request json_request(std::string body, std::string type = "application/json") {
  http_request r;
  r.method = http_method::post;
  r.headers.push_back({"content-type", std::move(type)});
  r.body = std::move(body);
  return r;
}

std::string parse_error(const http_request& r) {
  auto body = json_body::parse(r);
  BOOST_REQUIRE(!body);
  return body.error().message;
}
}  // namespace

BOOST_AUTO_TEST_SUITE(json_body_suite)

BOOST_AUTO_TEST_CASE(reads_typed_fields) {
  auto body = json_body::parse(json_request(R"({"code":"123456","flag":true,"empty":null})"));
  BOOST_REQUIRE(body);
  BOOST_TEST(body->only({"code", "flag", "empty"}).has_value());
  BOOST_TEST(*body->required_string("code", 16) == "123456");
  BOOST_TEST(*body->required_bool("flag"));
  BOOST_TEST(!body->optional_string("empty", 10)->has_value());
  BOOST_TEST(!body->optional_string("absent", 10)->has_value());
}

BOOST_AUTO_TEST_CASE(precise_errors) {
  BOOST_TEST(parse_error(json_request("{\"a\":")) == "request body is not valid JSON");
  BOOST_TEST(parse_error(json_request("[1,2]")) == "request body must be a JSON object");
  BOOST_TEST(parse_error(json_request("")) == "request body must be a JSON object");
  auto wrong_type = json_body::parse(json_request("{}", "text/plain"));
  BOOST_REQUIRE(!wrong_type);
  BOOST_TEST((wrong_type.error().kind == error_kind::unsupported_media_type));
  BOOST_TEST(json_body::parse(json_request("{}", "Application/JSON; charset=utf-8")).has_value());

  auto body = json_body::parse(json_request(R"({"code":123,"flag":"yes","long":"abcdef"})"));
  BOOST_REQUIRE(body);
  BOOST_TEST(body->required_string("code", 8).error().message == "field 'code' must be a string");
  BOOST_TEST(body->required_bool("flag").error().message == "field 'flag' must be true or false");
  BOOST_TEST(body->required_string("missing", 8).error().message == "missing field 'missing'");
  BOOST_TEST(body->required_string("long", 3).error().message == "field 'long' is longer than 3 bytes");
  BOOST_TEST(body->only({"code", "flag"}).error().message == "unknown field 'long'");
  // A member name that does not look like a field name (a code or a password sent as a key by
  // mistake) is not echoed (the routes fuzzer found a phone code sent back this way).
  for (const char* odd : {R"({"123456":1})", R"({"u123456x":1})", R"({"Hunter2":1})", R"({"a b":1})", R"({"":1})",
                          R"({"abcdefghijklmnopqrstuvwxyz0123456":1})"}) {
    auto unusual = json_body::parse(json_request(odd));
    BOOST_REQUIRE(unusual);
    BOOST_TEST(unusual->only({"code"}).error().message == "unknown field");
  }
}

// Parsers are reused per thread: bodies alive at once keep their own values, a body parsed
// after others were released sees only its own fields, and a large body in between changes
// nothing.
BOOST_AUTO_TEST_CASE(reused_parsers_never_mix_bodies) {
  for (int round = 0; round < 3; ++round) {
    std::vector<json_body> alive;
    for (int i = 0; i < 6; ++i) {
      auto body = json_body::parse(json_request(R"({"n":")" + std::to_string(round * 10 + i) + R"("})"));
      BOOST_REQUIRE(body);
      alive.push_back(std::move(*body));
    }
    for (int i = 0; i < 6; ++i) {
      BOOST_TEST(*alive[static_cast<std::size_t>(i)].required_string("n", 8) == std::to_string(round * 10 + i));
    }
    alive.erase(alive.begin(), alive.begin() + 3);  // move-assignment over released bodies
    BOOST_TEST(*alive.front().required_string("n", 8) == std::to_string(round * 10 + 3));
    {
      auto large = json_body::parse(json_request(R"({"big":")" + std::string(200000, 'x') + R"("})"));
      BOOST_REQUIRE(large);
      BOOST_TEST(large->required_string("big", 300000)->size() == 200000U);
    }
    auto later = json_body::parse(json_request(R"({"other":true})"));
    BOOST_REQUIRE(later);
    BOOST_TEST(later->only({"other"}).has_value());
    BOOST_TEST(!later->optional_string("n", 8)->has_value());
    BOOST_TEST(!later->optional_string("big", 300000)->has_value());
  }
}

BOOST_AUTO_TEST_CASE(refuses_duplicate_members_and_nul_in_strings) {
  // A WAF in front may read the last copy of a member where simdjson's lookup reads the first.
  BOOST_TEST(parse_error(json_request(R"({"role":"customer","role":"admin"})")) == "field 'role' appears more than once");
  BOOST_TEST(parse_error(json_request(R"({"user":"v2","code":"1","user":"v1"})")) == "field 'user' appears more than once");
  BOOST_TEST(json_body::parse(json_request(R"({"a":{"x":1},"b":{"x":2}})")).has_value());  // nested keys may repeat
  auto body = json_body::parse(json_request(R"({"ip":"192.0.2.77\u0000 anything"})"));
  BOOST_REQUIRE(body);
  BOOST_TEST(body->optional_string("ip", 64).error().message == "field 'ip' must not contain a NUL character");
}

BOOST_AUTO_TEST_CASE(media_types_compare_without_case_parameters_or_spaces) {
  // One reading of Content-Type for every route (JSON, NDJSON imports, rule files): type and
  // subtype are case-insensitive (RFC 9110 §8.3.1).
  BOOST_TEST(json_request("{}", "Application/JSON; charset=UTF-8").media_type() == "application/json");
  BOOST_TEST(json_request("{}", " application/toml \t;x=1").media_type() == "application/toml");
  BOOST_TEST(json_request("{}", "TEXT/Plain").media_type() == "text/plain");
  BOOST_TEST(json_request("{}", "").media_type().empty());
  BOOST_TEST(http_request{}.media_type().empty());
  BOOST_TEST(is_json_content_type(json_request("{}", "APPLICATION/json")));
  BOOST_TEST(!is_json_content_type(json_request("{}", "application/jsonx")));
  BOOST_TEST(!is_json_content_type(json_request("{}", "application/x-ndjson")));
}

BOOST_AUTO_TEST_SUITE_END()
