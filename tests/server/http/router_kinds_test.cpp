// router_suite, what a route returns and how its body is read: deferred responses,
// pending_reply (an async_response's Asio-free half; also run under ./tools/tsan), streamed and
// upgrade routes and their steps. Matching is in router_match_test.cpp.
#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <variant>

#include "router_test_support.hpp"
#include "server/http/problem.hpp"
#include "server/http/router.hpp"

using namespace callsign;
using namespace callsign::server;
using callsign::server::test_support::request;
using callsign::server::test_support::text_response;

BOOST_AUTO_TEST_SUITE(router_suite)

BOOST_AUTO_TEST_CASE(deferred_responses_finish_after_commit) {
  router routes;
  routes.add(http_method::post, "/v1/deferred", [](http_request&) -> handler_result {
    deferred_response deferred;
    deferred.changes.put(storage::column_family::users, "k", "v");
    deferred.finish = [](const result<storage::commit_receipt>& receipt) {
      http_response res;
      res.body = std::to_string(receipt->audit_sequences.size());
      return res;
    };
    return deferred;
  });
  auto req = request(http_method::post, "/v1/deferred");
  auto outcome = router::invoke(*routes.resolve(req).matched, req);
  auto* deferred = std::get_if<deferred_response>(&outcome);
  BOOST_REQUIRE(deferred != nullptr);
  BOOST_TEST(deferred->changes.ops.size() == 1U);
  storage::commit_receipt receipt;
  receipt.audit_sequences = {7, 8};
  BOOST_TEST(router::finish(*deferred, receipt).body == "2");
  // A failed commit never reaches finish: it becomes a problem response.
  auto failed = router::finish(*deferred, make_error(error_kind::unavailable, "disk full"));
  BOOST_TEST(failed.status == 503U);
  BOOST_TEST(failed.content_type == "application/problem+json");
}

// pending_reply: the Asio-free half of an async_response (the session's half is
// tests/server/net/async_route_test.cpp).
namespace {
std::function<void(handler_result)> stashed;
async_response resumes_later() {
  return async_response{[](std::function<void(handler_result)> resume) { stashed = std::move(resume); }};
}
}  // namespace

BOOST_AUTO_TEST_CASE(an_inline_resume_is_ready_without_a_wake) {
  auto slot = pending_reply::start(async_response{[](auto resume) { resume(make_error(error_kind::conflict, "x")); }});
  bool woken = false;
  auto ready = slot->take_or_wake([&] { woken = true; });
  BOOST_REQUIRE(ready.has_value());
  BOOST_TEST(std::get<http_response>(*ready).status == 409U);  // an error becomes its problem
  BOOST_TEST(!woken);
}

BOOST_AUTO_TEST_CASE(a_later_resume_wakes_once_and_a_second_is_ignored) {
  auto slot = pending_reply::start(resumes_later());
  int wakes = 0;
  BOOST_TEST(!slot->take_or_wake([&] { ++wakes; }).has_value());
  std::thread other([resume = std::move(stashed)] {
    resume(text_response("one"));
    resume(text_response("two"));
  });
  other.join();
  BOOST_TEST(wakes == 1);
  auto ready = slot->take_or_wake([&] { ++wakes; });
  BOOST_REQUIRE(ready.has_value());
  BOOST_TEST(std::get<http_response>(*ready).body == "one");
  BOOST_TEST(wakes == 1);
}

BOOST_AUTO_TEST_CASE(a_throwing_start_is_a_500_unless_it_had_resumed) {
  auto thrown = pending_reply::start(async_response{[](auto) { throw std::runtime_error("secret"); }});
  auto failed = thrown->take_or_wake([] {});
  BOOST_REQUIRE(failed.has_value());
  BOOST_TEST(std::get<http_response>(*failed).status == 500U);
  BOOST_TEST(std::get<http_response>(*failed).body.find("secret") == std::string::npos);
  auto late = pending_reply::start(async_response{[](auto resume) {
    resume(text_response("kept"));
    throw std::runtime_error("after");
  }});
  BOOST_TEST(std::get<http_response>(*late->take_or_wake([] {})).body == "kept");
  // An empty start could never resume: refused at once.
  auto empty = router::settle(async_response{});
  BOOST_TEST(std::get<http_response>(empty).status == 500U);
}

BOOST_AUTO_TEST_CASE(an_abandoned_slot_never_wakes) {
  auto slot = pending_reply::start(resumes_later());
  bool woken = false;
  BOOST_TEST(!slot->take_or_wake([&] { woken = true; }).has_value());
  slot->abandon();
  stashed(text_response("late"));
  stashed = nullptr;
  BOOST_TEST(!woken);
}

BOOST_AUTO_TEST_CASE(a_resume_may_continue_with_another_async_response) {
  auto slot = pending_reply::start(resumes_later());
  stashed(resumes_later());
  auto next = slot->take_or_wake([] {});
  BOOST_REQUIRE(next.has_value());
  BOOST_TEST(std::holds_alternative<async_response>(*next));  // the session starts it in turn
}

// Route kinds: the router, not the session, knows which path streams or upgrades.
namespace {
class counting_body final : public body_stream {
 public:
  result<void> write(std::span<const std::uint8_t> chunk) override {
    bytes += chunk.size();
    return {};
  }
  bool over_limit() const noexcept override { return false; }
  handler_result cut(http_request&, body_cut) override { return text_response("cut"); }
  void abandoned(http_request&, std::string_view) override {}
  handler_result finish(http_request&) override { return text_response(std::to_string(bytes)); }
  std::size_t bytes = 0;
};
}  // namespace

BOOST_AUTO_TEST_CASE(streamed_and_upgrade_routes_say_so_when_resolved) {
  router routes;
  routes.add_streamed(
      http_method::put, "/v1/files/{name}", [](http_request&) -> handler_result { return text_response("buffered"); },
      stream_steps{[](http_request& req, body_framing framing) -> std::variant<std::unique_ptr<body_stream>, handler_result> {
                     if (!framing.declared_length && !framing.chunked) {
                       return handler_result(make_error(error_kind::invalid_input, "length required"));
                     }
                     if (*req.path_param("name") == "boom") throw std::runtime_error("secret");
                     return std::make_unique<counting_body>();
                   },
                   100});
  routes.add_upgrade(
      http_method::get, "/v1/live", [](http_request&) -> handler_result { return text_response("plain"); },
      [](const http_request& req) -> std::optional<http_response> {
        if (req.header("origin")) return problem_response(403, "Forbidden", "no");
        return std::nullopt;
      });
  routes.add(http_method::get, "/v1/files/{name}", [](http_request&) -> handler_result { return text_response("get"); });

  auto put = request(http_method::put, "/v1/files/a%20b");
  auto streamed = routes.resolve(put);
  BOOST_REQUIRE(streamed.matched != nullptr);
  BOOST_TEST((streamed.body == body_reading::streamed));
  BOOST_TEST(streamed.matched->streamed.min_bytes_per_second == 100U);
  // A refused path parameter on a streamed route is still answered as a streamed route's refusal.
  auto bad = request(http_method::put, "/v1/files/%zz");
  auto refused = routes.resolve(bad);
  BOOST_TEST(refused.matched == nullptr);
  BOOST_TEST(refused.failure.status == 400U);
  BOOST_TEST((refused.body == body_reading::streamed));
  auto get = request(http_method::get, "/v1/files/x");
  BOOST_TEST((routes.resolve(get).body == body_reading::buffered));
  auto unknown = request(http_method::get, "/nope");
  BOOST_TEST((routes.resolve(unknown).body == body_reading::buffered));

  // Admission: a body, a refusal (mapped to its problem), and an exception (500, no detail).
  auto admitted = router::admit(*streamed.matched, put, body_framing{10, false});
  BOOST_REQUIRE(std::holds_alternative<std::unique_ptr<body_stream>>(admitted));
  auto& body = *std::get<std::unique_ptr<body_stream>>(admitted);
  const std::uint8_t bytes[3] = {1, 2, 3};
  BOOST_TEST(static_cast<bool>(body.write(bytes)));
  BOOST_TEST(std::get<http_response>(router::run_step([&] { return body.finish(put); })).body == "3");
  auto no_length = router::admit(*streamed.matched, put, body_framing{});
  BOOST_TEST(std::get<http_response>(std::get<route_outcome>(no_length)).status == 400U);
  auto boom = request(http_method::put, "/v1/files/boom");
  const auto* boom_route = routes.resolve(boom).matched;
  auto thrown = router::admit(*boom_route, boom, body_framing{1, false});
  const auto& failed = std::get<http_response>(std::get<route_outcome>(thrown));
  BOOST_TEST(failed.status == 500U);
  BOOST_TEST(failed.body.find("secret") == std::string::npos);
  // The in-memory handler still serves the same route (tests, fuzzing).
  BOOST_TEST(std::get<http_response>(router::invoke(*streamed.matched, put)).body == "buffered");

  auto live = request(http_method::get, "/v1/live");
  live.headers.push_back({"sec-websocket-version", "13"});
  live.headers.push_back({"sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="});  // RFC 6455's sample
  auto upgrade = routes.resolve(live);
  BOOST_REQUIRE(upgrade.matched != nullptr);
  BOOST_TEST((upgrade.body == body_reading::upgrade));
  BOOST_TEST(!router::check_upgrade(*upgrade.matched, live).has_value());
  live.headers.push_back({"origin", "https://elsewhere.example"});
  BOOST_TEST(router::check_upgrade(*upgrade.matched, live)->status == 403U);
  BOOST_TEST(std::get<http_response>(router::invoke(*upgrade.matched, live)).body == "plain");
}

// The handshake's own fields are checked before the route's check, so that Beast's accept cannot
// fail on them and answer in plain text (RFC 6455 §4.2.1, §4.4).
BOOST_AUTO_TEST_CASE(an_upgrade_with_a_bad_version_or_key_is_refused_as_a_problem) {
  router routes;
  routes.add_upgrade(
      http_method::get, "/v1/live", [](http_request&) -> result<http_response> { return text_response("plain"); },
      [](const http_request&) -> std::optional<http_response> { return std::nullopt; });
  auto with = [](std::optional<std::string> version, std::optional<std::string> key) {
    auto req = request(http_method::get, "/v1/live");
    if (version) req.headers.push_back({"sec-websocket-version", *version});
    if (key) req.headers.push_back({"sec-websocket-key", *key});
    return req;
  };
  const route* live = nullptr;
  {
    auto req = with("13", "dGhlIHNhbXBsZSBub25jZQ==");
    live = routes.resolve(req).matched;
    BOOST_REQUIRE(live != nullptr);
    BOOST_TEST(!router::check_upgrade(*live, req).has_value());
  }
  for (const auto& version : std::vector<std::optional<std::string>>{std::nullopt, "8", "12", "13, 8", " 13x"}) {
    auto req = with(version, "dGhlIHNhbXBsZSBub25jZQ==");
    auto refused = router::check_upgrade(*live, req);
    BOOST_TEST_INFO(version.value_or("(none)"));
    BOOST_TEST_REQUIRE(refused.has_value());
    BOOST_TEST(refused->status == 426U);
    BOOST_TEST(refused->content_type == "application/problem+json");
    const auto offered = std::find_if(refused->headers.begin(), refused->headers.end(),
                                      [](const auto& h) { return h.name == "Sec-WebSocket-Version"; });
    BOOST_TEST_REQUIRE((offered != refused->headers.end()));
    BOOST_TEST(offered->value == "13");
    BOOST_TEST((std::find_if(refused->headers.begin(), refused->headers.end(), [](const auto& h) {
                  return h.name == "Upgrade" && h.value == "websocket";
                }) != refused->headers.end()));
  }
  for (const auto& key : std::vector<std::optional<std::string>>{
           std::nullopt, "x", "dGhlIHNhbXBsZSBub25jZQ=", "dGhlIHNhbXBsZSBub25jZR==", "dGhlIHNhbXBsZSBub25j*Q==",
           "dGhlIHNhbXBsZSBub25jZQ==AA", "dGhlIHNhbXBsZSBub25jZQ"}) {
    auto req = with("13", key);
    auto refused = router::check_upgrade(*live, req);
    BOOST_TEST_INFO(key.value_or("(none)"));
    BOOST_TEST_REQUIRE(refused.has_value());
    BOOST_TEST(refused->status == 400U);
    BOOST_TEST(refused->body.find("Sec-WebSocket-Key") != std::string::npos);
  }
}

// Which session an upgrade hands over to is the route's word (the customer's stream by default).
BOOST_AUTO_TEST_CASE(upgrade_routes_name_their_session_kind) {
  router routes;
  auto plain = [](http_request&) -> handler_result { return text_response("plain"); };
  auto open = [](const http_request&) -> std::optional<http_response> { return std::nullopt; };
  routes.add_upgrade(http_method::get, "/v1/customer", plain, open);
  routes.add_upgrade(http_method::get, "/v1/console", plain, open, upgrade_kind::admin_stream);
  auto customer = request(http_method::get, "/v1/customer");
  auto console = request(http_method::get, "/v1/console");
  BOOST_TEST((routes.resolve(customer).matched->upgrades_to == upgrade_kind::customer_stream));
  BOOST_TEST((routes.resolve(console).matched->upgrades_to == upgrade_kind::admin_stream));
}

BOOST_AUTO_TEST_CASE(a_throwing_step_is_a_500) {
  auto outcome = router::run_step([]() -> handler_result { throw std::runtime_error("secret"); });
  BOOST_TEST(std::get<http_response>(outcome).status == 500U);
  BOOST_TEST(std::get<http_response>(outcome).body.find("secret") == std::string::npos);
}


BOOST_AUTO_TEST_SUITE_END()
