// router_suite, matching: patterns and parameters, 404 and 405, HEAD, errors and exceptions as
// problems, and path parameters decoded once (escapes, NUL, '/'). Route kinds and asynchronous
// replies are in router_kinds_test.cpp.
#include <boost/test/unit_test.hpp>
#include <stdexcept>
#include <tuple>
#include <vector>

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

// Query parameters: a route declares the names it takes, and the router refuses any other, and
// any repeated one, before the handler runs; a proxy in front must not read a different request.
BOOST_AUTO_TEST_CASE(query_parameters_are_declared_per_route) {
  router routes;
  int ran = 0;
  routes.add(http_method::get, "/v1/list", [&](http_request&) -> result<http_response> {
    ++ran;
    return http_response{};
  }).accepting_query({"after", "limit"});
  routes.add(http_method::post, "/v1/plain", [&](http_request&) -> result<http_response> {
    ++ran;
    return http_response{};
  });
  routes.add(http_method::get, "/page", [&](http_request&) -> result<http_response> {
    ++ran;
    return http_response{};
  }).accepting_any_query();
  auto resolve = [&](http_method method, std::string path, std::string query) {
    auto req = request(method, std::move(path));
    req.query = std::move(query);
    return routes.resolve(req);
  };
  BOOST_TEST(resolve(http_method::get, "/v1/list", "after=a&limit=5").matched != nullptr);
  BOOST_TEST(resolve(http_method::get, "/v1/list", "").matched != nullptr);
  BOOST_TEST(resolve(http_method::get, "/v1/list", "%61fter=a").matched != nullptr);
  for (const auto& [path, query, detail] : std::vector<std::tuple<std::string, std::string, std::string>>{
           {"/v1/list", "after=a&x=1", "unknown query parameter 'x'"},
           {"/v1/list", "limit=1&limit=2", "query parameter 'limit' appears more than once"},
           {"/v1/list", "limit=1&l%69mit=2", "query parameter 'limit' appears more than once"},
           {"/v1/list", "a%zz=1", "query parameter name 'a%zz' is badly encoded"},
           {"/v1/plain", "x=1", "unknown query parameter 'x'"},
           {"/v1/plain", "x=1&x=2", "unknown query parameter 'x'"},
       }) {
    auto match = resolve(path == "/v1/plain" ? http_method::post : http_method::get, path, query);
    BOOST_TEST_INFO(path << "?" << query);
    BOOST_TEST(match.matched == nullptr);
    BOOST_TEST(match.failure.status == 400U);
    BOOST_TEST(match.failure.content_type == "application/problem+json");
    BOOST_TEST(match.failure.body.find(detail) != std::string::npos, match.failure.body);
    BOOST_TEST(match.metrics_index != 0U);  // counted against the route it named
  }
  BOOST_TEST(resolve(http_method::get, "/page", "utm_source=x&utm_source=y&%zz").matched != nullptr);
  BOOST_TEST(ran == 0);
}

// RFC 9112 §3.2: origin-form, or absolute-form naming the Host; no fragment, no bare path.
BOOST_AUTO_TEST_CASE(request_targets_are_origin_form_or_absolute_form_of_the_host) {
  auto routes = sample_router();
  auto with_target = [](std::string target, std::string host) {
    http_request req;
    req.method = http_method::get;
    req.target = target;
    req.path = target.substr(0, target.find('?'));
    if (!host.empty()) req.headers.push_back({"host", host});
    return req;
  };
  auto absolute = with_target("http://api.example:8080/v1/users/u-1", "api.example:8080");
  auto match = routes.resolve(absolute);
  BOOST_REQUIRE(match.matched != nullptr);
  BOOST_TEST(absolute.path == "/v1/users/u-1");
  BOOST_TEST(*absolute.path_param("id") == "u-1");
  auto upper = with_target("HTTPS://API.example:8080/v1/users/u-2", "api.EXAMPLE:8080");
  BOOST_TEST(routes.resolve(upper).matched != nullptr);
  // The scheme's default port and a trailing dot name the same server as the Host without them.
  for (const auto& [target, host] : std::vector<std::pair<std::string, std::string>>{
           {"http://api.example:80/v1/users/u-3", "api.example"},
           {"http://api.example./v1/users/u-3", "api.example"},
           {"https://api.example/v1/users/u-3", "api.example:443"},
           {"http://[::1]:80/v1/users/u-3", "[::1]"}}) {
    auto same = with_target(target, host);
    BOOST_TEST_INFO(target << " with Host " << host);
    BOOST_TEST(routes.resolve(same).matched != nullptr);
  }
  for (const auto& [target, host, detail] : std::vector<std::tuple<std::string, std::string, std::string>>{
           {"http://other.example/v1/users/u-1", "api.example", "the same host and port as the Host header"},
           {"http://api.example:81/v1/users/u-1", "api.example:8080", "the same host and port as the Host header"},
           {"https://api.example:80/v1/users/u-1", "api.example", "the same host and port as the Host header"},
           {"http:///v1/users/u-1", "api.example", "the same host and port as the Host header"},
           {"v1/users/u-1", "api.example", "must be an absolute path"},
           {"*", "api.example", "must be an absolute path"},
           {"/v1/users/u-1#frag", "api.example", "must not carry a fragment"},
           {"/v1/users/u-1?a=1#frag", "api.example", "must not carry a fragment"},
       }) {
    auto req = with_target(target, host);
    auto refused = routes.resolve(req);
    BOOST_TEST_INFO(target);
    BOOST_TEST(refused.matched == nullptr);
    BOOST_TEST(refused.failure.status == 400U);
    BOOST_TEST(refused.failure.body.find(detail) != std::string::npos, refused.failure.body);
  }
}

BOOST_AUTO_TEST_CASE(an_unknown_method_is_501) {
  auto routes = sample_router();
  auto req = request(http_method::other, "/v1/users/x");
  auto match = routes.resolve(req);
  BOOST_TEST(match.matched == nullptr);
  BOOST_TEST(match.failure.status == 501U);
  BOOST_TEST(match.failure.content_type == "application/problem+json");
}

BOOST_AUTO_TEST_SUITE_END()
