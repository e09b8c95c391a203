// The framing rules a proxy in front and callsignd must read alike (issue 16, defects 1 and 6).
#include "server/http/request_framing.hpp"

#include <boost/test/unit_test.hpp>
#include <cctype>
#include <string>
#include <vector>

using namespace callsign::server;

namespace {
std::optional<std::string> check(unsigned version, std::vector<header_view> fields, bool folded = false) {
  return request_header_problem(version, fields, folded);
}
}  // namespace

BOOST_AUTO_TEST_SUITE(request_framing_suite)

BOOST_AUTO_TEST_CASE(accepts_ordinary_requests) {
  BOOST_TEST(!check(11, {{"Host", "x"}}));
  BOOST_TEST(!check(11, {{"Host", "x"}, {"Content-Length", "5"}, {"Authorization", "Bearer t"}}));
  BOOST_TEST(!check(11, {{"host", "x"}, {"Transfer-Encoding", "chunked"}}));
  BOOST_TEST(!check(11, {{"host", "x"}, {"transfer-encoding", "CHUNKED"}}));
  BOOST_TEST(!check(10, {}));  // HTTP/1.0 needs no Host
}

BOOST_AUTO_TEST_CASE(refuses_every_transfer_coding_but_a_single_chunked) {
  for (const char* coding : {"gzip", "xchunked", "identity", "compress", "\"chunked\"", "gzip, chunked", "chunked, gzip",
                             "chunked;q=1", ""}) {
    auto problem = check(11, {{"Host", "x"}, {"Transfer-Encoding", coding}});
    BOOST_TEST_INFO("Transfer-Encoding: " << coding);
    BOOST_TEST_REQUIRE(problem.has_value());
    BOOST_TEST(*problem == "the only accepted Transfer-Encoding is a single \"chunked\"");
  }
  BOOST_TEST(*check(11, {{"Host", "x"}, {"Transfer-Encoding", "chunked"}, {"Transfer-Encoding", "chunked"}}) ==
             "the only accepted Transfer-Encoding is a single \"chunked\"");
  BOOST_TEST(*check(11, {{"Host", "x"}, {"Transfer-Encoding", "xchunked"}, {"Content-Length", "3"}}) ==
             "the only accepted Transfer-Encoding is a single \"chunked\"");
  BOOST_TEST(*check(11, {{"Host", "x"}, {"Transfer-Encoding", "chunked"}, {"Content-Length", "3"}}) ==
             "a request may not carry both Transfer-Encoding and Content-Length");
  BOOST_TEST(*check(10, {{"Transfer-Encoding", "chunked"}}) ==
             "Transfer-Encoding is not accepted in an HTTP/1.0 request");
}

BOOST_AUTO_TEST_CASE(refuses_missing_or_repeated_host_and_repeated_authorization) {
  BOOST_TEST(*check(11, {}) == "an HTTP/1.1 request must carry a Host header");
  BOOST_TEST(*check(11, {{"Host", "a"}, {"HOST", "b"}}) == "more than one Host header");
  BOOST_TEST(*check(10, {{"Host", "a"}, {"Host", "a"}}) == "more than one Host header");
  BOOST_TEST(*check(11, {{"Host", "a"}, {"Authorization", "Bearer a"}, {"authorization", "Bearer b"}}) ==
             "more than one Authorization header");
}

BOOST_AUTO_TEST_CASE(refuses_obsolete_line_folding) {
  BOOST_TEST(*check(11, {{"Host", "a"}}, true) == "obsolete line folding in a header is not accepted");
  BOOST_TEST(has_obs_fold("GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n 2\r\n\r\n"));
  BOOST_TEST(has_obs_fold("GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n\t2\r\n\r\n"));
  BOOST_TEST(has_obs_fold("GET / HTTP/1.1\r\n Host: a\r\n\r\n"));
  BOOST_TEST(!has_obs_fold("GET / HTTP/1.1\r\nHost: a\r\nX-A: 1 2\r\n\r\n"));
}

// A proxy in front may read the first of two lines and callsignd the other: a single-value field
// appears once, a list field's lines are one list (RFC 9110 §5.3).
BOOST_AUTO_TEST_CASE(refuses_repeated_single_value_fields_and_accepts_repeated_lists) {
  for (const char* name : {"X-Real-IP", "Content-Type", "Origin", "X-Bot-Score", "X-Original-URI", "Content-Length",
                           "Sec-WebSocket-Key", "User-Agent"}) {
    BOOST_TEST_INFO(name);
    auto problem = check(11, {{"Host", "x"}, {name, "1"}, {"Accept", "*/*"}, {name, "2"}});
    BOOST_TEST_REQUIRE(problem.has_value());
    std::string lowered(name);
    for (auto& c : lowered) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    BOOST_TEST(*problem == "more than one " + lowered + " header (only list-valued fields may repeat)");
  }
  BOOST_TEST(!check(11, {{"Host", "x"}, {"X-Forwarded-For", "198.51.100.1"}, {"x-forwarded-for", "203.0.113.9"}}));
  BOOST_TEST(!check(11, {{"Host", "x"}, {"Accept", "a/b"}, {"ACCEPT", "c/d"}, {"Cookie", "a=1"}, {"Cookie", "b=2"}}));
  // Past 32 fields the check sorts the names instead of comparing each pair.
  std::vector<std::string> names;
  for (int i = 0; i < 40; ++i) names.push_back("X-F" + std::to_string(i));
  std::vector<header_view> many{{"Host", "x"}};
  for (const auto& name : names) many.push_back({name, "v"});
  BOOST_TEST(!check(11, many));
  many.push_back({"x-f7", "again"});
  BOOST_TEST(*check(11, many) == "more than one x-f7 header (only list-valued fields may repeat)");
  many.back() = {"Via", "1.1 a"};
  many.push_back({"via", "1.1 b"});
  BOOST_TEST(!check(11, many));
}

BOOST_AUTO_TEST_CASE(refuses_a_host_that_is_not_host_and_port) {
  for (const char* host : {"a", "a:80", "callsign.example.com:8443", "127.0.0.1", "[::1]:8080", "[2001:db8::1]",
                           "xn--bcher-kva.example", "a%41b", "", "a:", "[::1]:", "example.com."}) {
    BOOST_TEST_INFO(host);
    BOOST_TEST(!check(11, {{"Host", host}}));
  }
  for (const char* host : {"a b", "user@evil", "evil/x", "a:123456", "a:65536", "a:8o", "[::1", "[::1]x", "[zz]",
                           "a\tb", "a?b", "a#b", "a%4", "a%zz", "a%"}) {
    BOOST_TEST_INFO(host);
    auto problem = check(11, {{"Host", host}});
    BOOST_TEST_REQUIRE(problem.has_value());
    BOOST_TEST(*problem == "the Host header is not a valid host[:port]");
  }
}

BOOST_AUTO_TEST_CASE(joins_the_lines_of_a_list_field_in_order) {
  std::vector<http_header> headers{{"x-forwarded-for", "198.51.100.1"},
                                   {"host", "a"},
                                   {"x-forwarded-for", "203.0.113.9"},
                                   {"cookie", "a=1"},
                                   {"x-forwarded-for", "192.0.2.7"},
                                   {"cookie", "b=2"}};
  join_list_fields(headers);
  BOOST_TEST_REQUIRE(headers.size() == 3U);
  BOOST_TEST(headers[0].name == "x-forwarded-for");
  BOOST_TEST(headers[0].value == "198.51.100.1, 203.0.113.9, 192.0.2.7");  // the last hop stays last
  BOOST_TEST(headers[1].name == "host");
  BOOST_TEST(headers[2].value == "a=1; b=2");

  // An empty line adds no empty element (RFC 9110 §5.6.1), before or after a value.
  std::vector<http_header> sparse{{"x-forwarded-for", ""}, {"x-forwarded-for", "203.0.113.9"}, {"tracestate", "a=1"},
                                  {"x-forwarded-for", ""}, {"tracestate", "b=2"}};
  join_list_fields(sparse);
  BOOST_TEST_REQUIRE(sparse.size() == 2U);
  BOOST_TEST(sparse[0].value == "203.0.113.9");
  BOOST_TEST(sparse[1].value == "a=1, b=2");

  // Thousands of lines of one list field: one pass (a quadratic join took seconds here).
  std::vector<http_header> many(20000, http_header{"te", "x"});
  join_list_fields(many);
  BOOST_TEST_REQUIRE(many.size() == 1U);
  BOOST_TEST(many[0].value.size() == 20000U * 3 - 2);
}

BOOST_AUTO_TEST_CASE(finds_the_end_of_a_header_block) {
  BOOST_TEST(!header_block_end("GET / HTTP/1.1\r\nHost: a\r\n").has_value());
  BOOST_TEST(*header_block_end("GET / HTTP/1.1\r\nHost: a\r\n\r\nbody") == 27U);
}

BOOST_AUTO_TEST_SUITE_END()
