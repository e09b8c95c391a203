// serialize_response: the exact bytes of a response, and the framing rules around them.
#include "server/http/response_bytes.hpp"

#include <boost/test/unit_test.hpp>
#include <string>

#include "server/http/problem.hpp"

using namespace callsign::server;

namespace {

std::string bytes(const http_response& r, response_framing f = {}) {
  std::string out = "left over from the previous response";
  serialize_response(r, f, out);
  return out;
}

std::size_t count(const std::string& text, std::string_view needle) {
  std::size_t n = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(response_bytes_tests)

BOOST_AUTO_TEST_CASE(a_json_response_has_the_default_headers_and_its_length) {
  http_response r;
  r.status = 200;
  r.body = R"({"ok":true})";
  BOOST_TEST(bytes(r, {11, true, false, "req-1"}) ==
             "HTTP/1.1 200 OK\r\n"
             "Server: callsign\r\n"
             "Content-Type: application/json\r\n"
             "Cache-Control: no-store\r\n"
             "X-Content-Type-Options: nosniff\r\n"
             "X-Request-Id: req-1\r\n"
             "Content-Length: 11\r\n"
             "\r\n"
             R"({"ok":true})");
}

BOOST_AUTO_TEST_CASE(connection_header_follows_the_version) {
  http_response r;
  r.body = "x";
  BOOST_TEST(count(bytes(r, {11, true, false, {}}), "Connection:") == 0u);
  BOOST_TEST(count(bytes(r, {11, false, false, {}}), "Connection: close\r\n") == 1u);
  const auto old_keep = bytes(r, {10, true, false, {}});
  BOOST_TEST(old_keep.starts_with("HTTP/1.0 200 OK\r\n"));
  BOOST_TEST(count(old_keep, "Connection: keep-alive\r\n") == 1u);
  BOOST_TEST(count(bytes(r, {10, false, false, {}}), "Connection:") == 0u);
  BOOST_TEST(count(bytes(r, {11, true, false, {}}), "X-Request-Id") == 0u);  // none given
}

BOOST_AUTO_TEST_CASE(head_keeps_the_length_and_drops_the_body) {
  http_response r;
  r.content_type = "text/html; charset=utf-8";
  r.body = "<p>hello</p>";
  const auto out = bytes(r, {11, true, true, {}});
  BOOST_TEST(count(out, "Content-Length: 12\r\n") == 1u);
  BOOST_TEST(out.ends_with("\r\n\r\n"));
  BOOST_TEST(out.find("hello") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(bodiless_statuses_have_no_length_and_no_body) {
  for (unsigned status : {204u, 304u, 100u}) {
    http_response r;
    r.status = status;
    r.content_type.clear();
    r.body = "ignored";
    const auto out = bytes(r);
    BOOST_TEST(out.find("Content-Length") == std::string::npos);
    BOOST_TEST(out.ends_with("\r\n\r\n"));
    BOOST_TEST(out.find("\r\nContent-Type:") == std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(route_headers_replace_defaults_and_earlier_ones) {
  http_response r;
  r.status = 429;
  r.content_type = "application/problem+json";
  r.body = "{}";
  r.with_header("Retry-After", "60").with_header("cache-control", "private").with_header("Retry-After", "61");
  const auto out = bytes(r);
  BOOST_TEST(out.starts_with("HTTP/1.1 429 Too Many Requests\r\n"));
  BOOST_TEST(count(out, "Cache-Control") == 0u);
  BOOST_TEST(count(out, "cache-control: private\r\n") == 1u);
  BOOST_TEST(count(out, "Retry-After") == 1u);
  BOOST_TEST(count(out, "Retry-After: 61\r\n") == 1u);
  BOOST_TEST(count(out, "Content-Type: application/problem+json\r\n") == 1u);
}

BOOST_AUTO_TEST_CASE(framing_headers_from_routes_and_bad_names_are_left_out) {
  http_response r;
  r.body = "abc";
  r.with_header("Content-Length", "999")
      .with_header("Transfer-Encoding", "chunked")
      .with_header("Connection", "upgrade")
      .with_header("Bad Name", "x")
      .with_header("Bad:Name", "x")
      .with_header("", "x");
  const auto out = bytes(r, {11, false, false, {}});
  BOOST_TEST(count(out, "Content-Length: 3\r\n") == 1u);
  BOOST_TEST(count(out, "Content-Length") == 1u);
  BOOST_TEST(out.find("chunked") == std::string::npos);
  BOOST_TEST(out.find("upgrade") == std::string::npos);
  BOOST_TEST(out.find("Bad") == std::string::npos);
  BOOST_TEST(count(out, "Connection: close\r\n") == 1u);
}

BOOST_AUTO_TEST_CASE(a_value_can_never_split_the_header_block) {
  http_response r;
  r.body = "b";
  r.with_header("Location", "/x\r\nSet-Cookie: evil=1\r\n\r\n<script>");
  const auto out = bytes(r, {11, true, false, "id\r\nX: y"});
  BOOST_TEST(out.find("\r\nSet-Cookie") == std::string::npos);
  BOOST_TEST(out.find("\r\nX: y") == std::string::npos);
  BOOST_TEST(count(out, "\r\n\r\n") == 1u);
  BOOST_TEST(out.ends_with("\r\n\r\nb"));
}

BOOST_AUTO_TEST_CASE(unknown_and_invalid_statuses) {
  http_response r;
  r.status = 599;
  BOOST_TEST(bytes(r).starts_with("HTTP/1.1 599 Error\r\n"));
  r.status = 42;
  BOOST_TEST(bytes(r).starts_with("HTTP/1.1 500 Internal Server Error\r\n"));
  BOOST_TEST(reason_phrase(413) == "Content Too Large");
  BOOST_TEST(reason_phrase(431) == "Request Header Fields Too Large");
}

BOOST_AUTO_TEST_SUITE_END()
