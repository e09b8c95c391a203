// router_suite, matching: patterns and parameters, 404 and 405, HEAD, errors and exceptions as
// problems, and path parameters decoded once (escapes, NUL, '/'). Route kinds and asynchronous
// replies are in router_kinds_test.cpp.
#include <boost/test/unit_test.hpp>
#include <stdexcept>

#include "router_test_support.hpp"
#include "server/http/problem.hpp"
#include "server/http/router.hpp"

using namespace callsign;
using namespace callsign::server;
using callsign::server::test_support::request;

namespace {
router sample_router() {
  router routes;
  routes.add(http_method::get, "/v1/users/{id}", [](http_request& req) -> result<http_response> {
    http_response res;
    res.body = std::string(*req.path_param("id"));
    return res;
  });
  routes.add(http_method::put, "/v1/users/{id}", [](http_request&) -> result<http_response> {
    return make_error(error_kind::conflict, "already exists");
  });
  routes.add(http_method::post, "/v1/boom", [](http_request&) -> result<http_response> {
    throw std::runtime_error("secret detail that must not leak");
  });
  return routes;
}
}  // namespace

BOOST_AUTO_TEST_SUITE(router_suite)

BOOST_AUTO_TEST_CASE(matches_pattern_and_extracts_params) {
  auto routes = sample_router();
  auto req = request(http_method::get, "/v1/users/u-42");
  auto match = routes.resolve(req);
  BOOST_REQUIRE(match.matched != nullptr);
  BOOST_TEST(routes.route_labels()[match.metrics_index] == "GET /v1/users/{id}");
  auto res = std::get<http_response>(router::invoke(*match.matched, req));
  BOOST_TEST(res.status == 200U);
  BOOST_TEST(res.body == "u-42");
}

BOOST_AUTO_TEST_CASE(unknown_path_is_404_problem) {
  auto routes = sample_router();
  for (const char* path : {"/v1/users", "/v1/users/", "/v1/users/a/b", "/", "/nope"}) {
    auto req = request(http_method::get, path);
    auto match = routes.resolve(req);
    BOOST_TEST(match.matched == nullptr);
    BOOST_TEST(match.failure.status == 404U);
    BOOST_TEST(match.failure.content_type == "application/problem+json");
    BOOST_TEST(match.metrics_index == 0U);
  }
}

BOOST_AUTO_TEST_CASE(wrong_method_is_405_with_allow) {
  auto routes = sample_router();
  auto req = request(http_method::delete_, "/v1/users/x");
  auto match = routes.resolve(req);
  BOOST_REQUIRE(match.matched == nullptr);
  BOOST_TEST(match.failure.status == 405U);
  BOOST_REQUIRE(match.failure.headers.size() == 1U);
  BOOST_TEST(match.failure.headers[0].name == "Allow");
  BOOST_TEST(match.failure.headers[0].value == "GET, HEAD, PUT");
}

BOOST_AUTO_TEST_CASE(head_matches_get_routes) {
  auto routes = sample_router();
  auto req = request(http_method::head, "/v1/users/x");
  BOOST_TEST(routes.resolve(req).matched != nullptr);
}

BOOST_AUTO_TEST_CASE(handler_errors_become_problems) {
  auto routes = sample_router();
  auto req = request(http_method::put, "/v1/users/x");
  auto res = std::get<http_response>(router::invoke(*routes.resolve(req).matched, req));
  BOOST_TEST(res.status == 409U);
  BOOST_TEST(res.content_type == "application/problem+json");
  BOOST_TEST(res.body.find("already exists") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(exceptions_become_500_without_detail) {
  auto routes = sample_router();
  auto req = request(http_method::post, "/v1/boom");
  auto res = std::get<http_response>(router::invoke(*routes.resolve(req).matched, req));
  BOOST_TEST(res.status == 500U);
  BOOST_TEST(res.body.find("secret") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(path_params_are_percent_decoded_once) {
  auto routes = sample_router();
  for (const auto& [path, id] : std::vector<std::pair<std::string, std::string>>{
           {"/v1/users/a%40b%3Ac", "a@b:c"},
           {"/v1/users/a%40b%3ac", "a@b:c"},
           {"/v1/users/a@b:c", "a@b:c"},
           {"/v1/users/%2540", "%40"},  // once: "%25" is '%', not the start of another escape
           {"/v1/users/a+b%20c", "a+b c"}}) {
    auto req = request(http_method::get, path);
    auto match = routes.resolve(req);
    BOOST_TEST_REQUIRE(match.matched != nullptr, path);
    BOOST_TEST(*req.path_param("id") == id, path);
    BOOST_TEST(std::get<http_response>(router::invoke(*match.matched, req)).body == id);
  }
  // Only captured segments are decoded: literal ones are compared as sent.
  auto literal = request(http_method::get, "/v1/%75sers/x");
  BOOST_TEST(routes.resolve(literal).failure.status == 404U);
}

BOOST_AUTO_TEST_CASE(bad_escapes_nul_and_slash_in_a_param_are_400_problems) {
  auto routes = sample_router();
  const std::vector<std::pair<std::string, std::string>> cases{
      {"%zz", "bad percent escape"}, {"ab%4", "bad percent escape"}, {"%", "bad percent escape"},
      {"x%g1", "bad percent escape"}, {"a%00b", "NUL"}, {"a%2Fb", "'/'"}, {"a%2fb", "'/'"}};
  for (const auto& [segment, detail] : cases) {
    auto req = request(http_method::put, "/v1/users/" + segment);
    auto match = routes.resolve(req);
    BOOST_TEST(match.matched == nullptr, segment);
    BOOST_TEST(match.failure.status == 400U, segment);
    BOOST_TEST(match.failure.content_type == "application/problem+json");
    BOOST_TEST(match.failure.body.find("path segment 'id'") != std::string::npos, match.failure.body);
    BOOST_TEST(match.failure.body.find(detail) != std::string::npos, match.failure.body);
    if (segment.size() > 1) {  // "%" alone is in the detail's own hint
      BOOST_TEST(match.failure.body.find(segment) == std::string::npos, "the detail quotes the segment");
    }
    BOOST_TEST(routes.route_labels()[match.metrics_index] == "PUT /v1/users/{id}");
    BOOST_TEST(req.path_params.empty());
  }
  // A method the resource does not allow is still 405, escape or not.
  auto wrong = request(http_method::delete_, "/v1/users/%zz");
  BOOST_TEST(routes.resolve(wrong).failure.status == 405U);
}

BOOST_AUTO_TEST_CASE(a_route_may_allow_slashes_but_never_nul) {
  router routes;
  routes.add(
      http_method::delete_, "/v1/blocks/{key}",
      [](http_request& req) -> result<http_response> {
        http_response res;
        res.body = std::string(*req.path_param("key"));
        return res;
      },
      route_execution::io, path_slashes::allowed);
  auto req = request(http_method::delete_, "/v1/blocks/2001:db8::%2F64");
  auto match = routes.resolve(req);
  BOOST_TEST_REQUIRE(match.matched != nullptr);
  BOOST_TEST(*req.path_param("key") == "2001:db8::/64");
  // A raw '/' is still a segment boundary: no match.
  auto raw = request(http_method::delete_, "/v1/blocks/2001:db8::/64");
  BOOST_TEST(routes.resolve(raw).failure.status == 404U);
  auto nul = request(http_method::delete_, "/v1/blocks/a%00");
  BOOST_TEST(routes.resolve(nul).failure.status == 400U);
}

BOOST_AUTO_TEST_SUITE_END()
