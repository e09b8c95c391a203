// The framing rules a proxy in front and callsignd must read alike (issue 16, defects 1 and 6).
#include "server/http/request_framing.hpp"

#include <boost/test/unit_test.hpp>
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

BOOST_AUTO_TEST_CASE(finds_the_end_of_a_header_block) {
  BOOST_TEST(!header_block_end("GET / HTTP/1.1\r\nHost: a\r\n").has_value());
  BOOST_TEST(*header_block_end("GET / HTTP/1.1\r\nHost: a\r\n\r\nbody") == 27U);
}

BOOST_AUTO_TEST_SUITE_END()
