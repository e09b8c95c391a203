// Every route of callsignd through the real router, with no sockets: the first input byte
// picks a route, the second a caller (bearer token) and a Content-Type, and the rest is
// "path-param \n query \n body". The app is real (RocksDB, group-commit writer, key ring).
// Invariants: no route answers bad input with a 5xx or an exception; every answer is 2xx
// (JSON bodies valid JSON) or a 4xx problem+json with type, title, status and detail;
// deferred answers are committed and finished the way the session layer does it; refusals
// never quote the caller's bearer token or the phone code sent in the body.
#include <simdjson.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <variant>

#include "fuzz/fuzz_check.hpp"
#include "fuzz/response_check.hpp"
#include "support/route_outcome_wait.hpp"
#include "fuzz/route_world.hpp"

using namespace callsign;
using namespace callsign::server;

namespace {
struct route_case {
  http_method method;
  std::string_view pattern;  // "{}" takes the path parameter from the input
};

// Every registered route. The start-up check below fails when a route is added without being
// listed here.
constexpr route_case route_table[] = {
    {http_method::get, "/healthz"},
    {http_method::get, "/readyz"},
    {http_method::get, "/metrics"},
    {http_method::put, "/v1/users/{}"},
    {http_method::get, "/v1/users"},
    {http_method::get, "/v1/me/phone-token"},
    {http_method::get, "/v1/me/audit"},
    {http_method::post, "/v1/me/authenticator"},
    {http_method::post, "/v1/me/authenticator/confirm"},
    {http_method::delete_, "/v1/me/authenticator"},
    {http_method::post, "/v1/verify"},
    {http_method::get, "/v1/audit"},
    {http_method::get, "/v1/stream"},
    {http_method::get, "/"},
    {http_method::get, "/agent"},
    {http_method::get, "/admin"},
    {http_method::get, "/static/{}"},
    {http_method::post, "/v1/dev/token"},
    {http_method::post, "/v1/login/check"},
    {http_method::post, "/v1/login/result"},
    {http_method::get, "/v1/login/gate"},
    {http_method::get, "/v1/admin/blocks"},
    {http_method::delete_, "/v1/admin/blocks/{}"},
    {http_method::get, "/v1/admin/lists"},
    {http_method::post, "/v1/admin/lists/{}/reload"},
    {http_method::put, "/v1/admin/lists/{}"},
    // Appended, so the selector bytes of existing seeds keep naming the same routes.
    {http_method::get, "/v1/users/{}"},
    {http_method::delete_, "/v1/users/{}"},
    {http_method::post, "/v1/admin/users/import"},
    // Issue 19: the admin stream and the login rules (a text/plain body reaches the rule file).
    {http_method::get, "/v1/admin/stream"},
    {http_method::get, "/v1/admin/rules"},
    {http_method::put, "/v1/admin/rules"},
    {http_method::post, "/v1/admin/rules/reload"},
    {http_method::post, "/v1/admin/rules/test"},
    {http_method::post, "/v1/admin/rules/{}/shadow"},
};
constexpr std::size_t route_count = sizeof(route_table) / sizeof(route_table[0]);

std::string label_of(const route_case& c) {
  std::string pattern(c.pattern);
  if (auto at = pattern.find("{}"); at != std::string::npos) {
    const std::string_view name = c.pattern.starts_with("/v1/users")          ? "{id}"
                                  : c.pattern.starts_with("/v1/admin/blocks") ? "{key}"
                                  : c.pattern.starts_with("/v1/admin/lists")  ? "{name}"
                                  : c.pattern.starts_with("/v1/admin/rules")  ? "{id}"
                                                                               : "{file}";
    pattern.replace(at, 2, name);
  }
  return std::string(http_method_name(c.method)) + " " + pattern;
}

// Runs one request the way the session layer does, commit included, and checks the answer.
http_response run(fuzz::route_world& world, http_request& request) {
  auto match = world.routes.resolve(request);
  if (match.matched == nullptr) {
    fuzz::check_problem(match.failure);
    // 400: a matched route whose path parameter has a bad escape, NUL or '/', or whose query
    // has an undeclared or repeated parameter; or, before any route, a target that is not a
    // path (or an absolute URI of the Host) or carries a fragment. 501: an unknown method.
    const bool target_refused = match.failure.status == 400 && match.metrics_index == 0 &&
                                (request.path.empty() || request.path.front() != '/' ||
                                 request.target.find('#') != std::string::npos);
    FUZZ_CHECK(match.failure.status == 404 || match.failure.status == 405 ||
               (match.failure.status == 400 && match.metrics_index != 0) || target_refused ||
               (match.failure.status == 501 && request.method == http_method::other));
    return match.failure;
  }
  auto outcome = router::invoke(*match.matched, request);
  outcome = test::awaited(std::move(outcome));  // as the session awaits it on its executor
  http_response response;
  if (auto* deferred = std::get_if<deferred_response>(&outcome)) {
    const auto committed = world.writer->commit(std::move(deferred->changes));
    response = router::finish(*deferred, committed);
  } else {
    response = std::move(std::get<http_response>(outcome));
  }
  if (response.status >= 500 || response.status < 200) {
    std::fprintf(stderr, "%s %s -> %u %s\n", std::string(http_method_name(request.method)).c_str(),
                 request.path.c_str(), response.status, response.body.c_str());
  }
  FUZZ_CHECK(response.status >= 200 && response.status < 500);
  if (response.status >= 400) {
    fuzz::check_problem(response);
  } else if (response.content_type == "application/json") {
    FUZZ_CHECK(fuzz::is_json(response.body));
  }
  return response;
}

http_request make_request(http_method method, std::string path, std::string token, std::string body) {
  http_request request;
  request.method = method;
  request.path = std::move(path);
  request.target = request.path;
  request.remote_address = "203.0.113.7";
  request.request_id = "fuzz";
  if (!token.empty()) request.headers.push_back({"authorization", "Bearer " + token});
  if (!body.empty()) request.headers.push_back({"content-type", "application/json"});
  request.body = std::move(body);
  return request;
}

struct fixture {
  fuzz::route_world world;
  std::vector<std::string> tokens;  // index = caller selector
  std::string current_code;         // u1's phone token at the fixed clock

  fixture() {
    const auto& labels = world.routes.route_labels();
    for (std::size_t i = 1; i < labels.size(); ++i) {
      bool listed = false;
      for (const auto& c : route_table) listed = listed || label_of(c) == labels[i];
      if (!listed) std::fprintf(stderr, "routes_fuzz: route %s is not in route_table\n", labels[i].c_str());
      FUZZ_CHECK(listed);
    }
    const std::string admin = world.token(role::admin, "admin-1");
    tokens = {"",
              world.token(role::customer, "u1"),
              world.token(role::customer, "u2"),
              world.token(role::customer, "ghost"),
              world.token(role::agent, "agent-7"),
              world.token(role::service, "login-frontend"),
              admin,
              world.token(role::admin, "admin-1", fuzz::world_time - 10'000, 100),      // expired
              admin.substr(0, admin.size() - 2) + (admin.back() == 'A' ? "BA" : "AA"),  // bad signature
              "not-a-token"};
    for (auto [id, phone] : {std::pair{"u1", "true"}, std::pair{"u2", "false"}}) {
      auto request =
          make_request(http_method::put, std::string("/v1/users/") + id, admin,
                       std::string(R"({"email":")") + id + R"(@example.com","phone_support":)" + phone + "}");
      FUZZ_CHECK(run(world, request).status / 100 == 2);
    }
    auto request = make_request(http_method::get, "/v1/me/phone-token", tokens[1], "");
    const auto response = run(world, request);
    FUZZ_CHECK(response.status == 200);
    simdjson::dom::parser parser;
    std::string_view code;
    FUZZ_CHECK(!parser.parse(response.body)["token"].get_string().get(code));
    current_code = std::string(code);
  }
};

fixture& state() {
  static fixture f;
  return f;
}
}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  state();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  auto& f = state();
  const std::string_view rest(reinterpret_cast<const char*>(data + 2), size - 2);
  const auto first_newline = rest.find('\n');
  const std::string_view param = rest.substr(0, first_newline);
  std::string_view query;
  std::string body;
  if (first_newline != std::string_view::npos) {
    const auto after = rest.substr(first_newline + 1);
    const auto second_newline = after.find('\n');
    query = after.substr(0, second_newline);
    if (second_newline != std::string_view::npos) body = std::string(after.substr(second_newline + 1));
  }
  // "$CODE" stands for the caller's current phone token, so verify can also succeed (once).
  // (Only when the code is not also spelled out in the path or query, which errors may quote.)
  const bool had_code = body.find("$CODE") != std::string::npos && rest.find(f.current_code) == std::string_view::npos;
  for (auto at = body.find("$CODE"); at != std::string::npos; at = body.find("$CODE")) {
    body.replace(at, 5, f.current_code);
  }

  http_request request;
  const std::size_t selector = data[0];
  if (selector < route_count) {
    const auto& c = route_table[selector];
    request.method = c.method;
    std::string path(c.pattern);
    if (auto at = path.find("{}"); at != std::string::npos) path.replace(at, 2, param);
    request.path = std::move(path);
  } else {
    // Anything else: a free method and path, for the router's own 404/405 answers.
    constexpr http_method methods[] = {http_method::get,   http_method::head,    http_method::post,   http_method::put,
                                       http_method::patch, http_method::delete_, http_method::options};
    request.method = methods[selector % 7];
    request.path = std::string(param);
  }
  request.query = std::string(query);
  request.target = request.query.empty() ? request.path : request.path + "?" + request.query;
  request.remote_address = "203.0.113.7";
  request.request_id = "fuzz";
  const auto& token = f.tokens[(data[1] & 0x0fU) % f.tokens.size()];
  if (!token.empty()) request.headers.push_back({"authorization", "Bearer " + token});
  switch ((data[1] >> 4U) % 6) {
    case 0:
    case 1:
    case 2:
      request.headers.push_back({"content-type", "application/json"});
      break;
    case 3:
      request.headers.push_back({"content-type", "Application/JSON; charset=utf-8"});
      break;
    case 4:
      request.headers.push_back({"content-type", "text/plain"});
      break;
    default:
      break;
  }
  request.body = std::move(body);
  const auto response = run(f.world, request);
  // Refusals never echo a credential: not the bearer token, not the phone code sent in.
  if (response.status >= 400) {
    FUZZ_CHECK(token.size() < 16 || response.body.find(token) == std::string::npos);
    FUZZ_CHECK(!had_code || response.body.find(f.current_code) == std::string::npos);
  }
  return 0;
}
