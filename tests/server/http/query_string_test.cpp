#include "server/http/query_string.hpp"

#include <boost/test/unit_test.hpp>

using namespace callsign::server;

BOOST_AUTO_TEST_SUITE(query_string_suite)

BOOST_AUTO_TEST_CASE(decodes_values) {
  auto email = query_param("limit=5&email=a%2Bb%40example.com&x=1", "email");
  BOOST_REQUIRE(email);
  BOOST_TEST(**email == "a+b@example.com");
  BOOST_TEST(**query_param("q=hello+world", "q") == "hello world");
  BOOST_TEST(!query_param("a=1", "b")->has_value());
  BOOST_TEST(**query_param("flag&a=1", "flag") == "");
}

BOOST_AUTO_TEST_CASE(rejects_bad_escapes_and_numbers) {
  BOOST_TEST(!query_param("email=%4", "email"));
  BOOST_TEST(!query_param("email=%zz", "email"));
  BOOST_TEST(query_param("email=a%zz", "email").error().message == "query parameter 'email' is badly encoded");
  BOOST_TEST(**query_param("q=%2B+%2b", "q") == "+ +");  // '+' is a space here, unlike in paths
  BOOST_TEST(**query_uint("limit=50", "limit", 1, 100) == 50U);
  BOOST_TEST(!query_uint("limit=0", "limit", 1, 100));
  BOOST_TEST(!query_uint("limit=101", "limit", 1, 100));
  BOOST_TEST(!query_uint("limit=-1", "limit", 1, 100));
  BOOST_TEST(!query_uint("limit=", "limit", 1, 100));
  BOOST_TEST(query_only("a=1&b=2", {"a", "b"}).has_value());
  BOOST_TEST(query_only("a=1&c=2", {"a", "b"}).error().message == "unknown query parameter 'c'");
}

BOOST_AUTO_TEST_CASE(refuses_repeated_parameters_and_nul) {
  // A proxy in front may read the first copy and callsignd the last, or the other way round.
  BOOST_TEST(query_param("email=a&email=b", "email").error().message == "query parameter 'email' appears more than once");
  BOOST_TEST(!query_uint("limit=5&limit=500", "limit", 1, 1000));
  BOOST_TEST(**query_param("email=a&other=b&other=c", "email") == "a");
  BOOST_TEST(query_param("email=a%00b", "email").error().message == "query parameter 'email' must not contain NUL");
}

// Names are form-encoded like values: a proxy that decodes "us%65r" reads the parameter
// "user", and so must callsignd, or the two would see different requests.
BOOST_AUTO_TEST_CASE(decodes_names_before_matching_them) {
  BOOST_TEST(**query_param("us%65r=alice", "user") == "alice");
  BOOST_TEST(**query_param("page+size=5", "page size") == "5");
  BOOST_TEST(query_param("user=a&us%65r=b", "user").error().message == "query parameter 'user' appears more than once");
  BOOST_TEST(query_only("%61fter=1", {"after"}).has_value());
  BOOST_TEST(query_param("us%6=a", "user").error().message == "query parameter name 'us%6' is badly encoded");
  BOOST_TEST(query_only("a%00b=1", {"a"}).error().message == "query parameter name 'a%00b' is badly encoded");
  BOOST_TEST(query_only("%61fter=1&c=2", {"after"}).error().message == "unknown query parameter 'c'");
}

BOOST_AUTO_TEST_SUITE_END()
