// The web pages (GET /, /agent, /admin), their static files (GET /static/{file}) from
// server.web_root, and, in dev mode only, demo identities (POST /v1/dev/token).
// Files are read at request time on the worker pool: they are small, and edits show at once.
#include <cstdint>
#include <fstream>
#include <iterator>
#include <span>
#include <sstream>

#include "crypto/constant_time.hpp"
#include "routes/route_support.hpp"
#include "server/auth/token_minting.hpp"
#include "server/auth/verification_keys.hpp"
#include "server/http/json_body.hpp"
#include "server/http/json_writer.hpp"
#include "server/http/problem.hpp"
#include "server/routes/routes.hpp"

namespace callsign::server {

namespace {

constexpr std::string_view page_csp =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'";
constexpr std::size_t max_web_file_bytes = 1024 * 1024;
constexpr std::int64_t dev_token_ttl_seconds = 3600;

// [a-z0-9_-]+ followed by ".js" or ".css": no dots elsewhere, no slashes, so no traversal.
std::optional<std::string_view> static_content_type(std::string_view name) {
  auto dot = name.find('.');
  if (dot == 0 || dot == std::string_view::npos || name.size() > 128) {
    return std::nullopt;
  }
  for (char c : name.substr(0, dot)) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (!ok) {
      return std::nullopt;
    }
  }
  auto ext = name.substr(dot);
  if (ext == ".js") {
    return "text/javascript; charset=utf-8";
  }
  if (ext == ".css") {
    return "text/css; charset=utf-8";
  }
  return std::nullopt;
}

result<std::string> read_web_file(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    return make_error(error_kind::not_found, "no such page");
  }
  auto size = std::filesystem::file_size(path, ec);
  if (ec || size > max_web_file_bytes) {
    return make_error(error_kind::internal, "page file is unreadable");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return make_error(error_kind::not_found, "no such page");
  }
  std::string body((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return body;
}

http_response with_page_headers(http_response response) {
  response.with_header("Content-Security-Policy", std::string(page_csp))
      .with_header("X-Frame-Options", "DENY")
      .with_header("Cache-Control", "no-store")
      .with_header("Referrer-Policy", "no-referrer");
  return response;
}

result<http_response> serve_file(const std::filesystem::path& path, std::string_view content_type) {
  auto body = read_web_file(path);
  if (!body) {
    return body.error();
  }
  http_response response;
  response.content_type = std::string(content_type);
  response.body = std::move(*body);
  return with_page_headers(std::move(response));
}

result<http_response> serve_static(const app_context& app, const http_request& request) {
  auto name = request.path_param("file").value_or("");
  auto type = static_content_type(name);
  if (!type) {
    return make_error(error_kind::not_found, "no such static file");
  }
  return serve_file(app.config.web_root / "static" / std::string(name), *type);
}

result<http_response> dev_token(const app_context& app, http_request& request) {
  if (!app.config.dev_mode) {
    return make_error(error_kind::not_found, "demo identities exist only in dev mode");
  }
  auto body = json_body::parse(request);
  if (!body) {
    return body.error();
  }
  if (auto known = body->only({"role", "sub"}); !known) {
    return known.error();
  }
  auto role_text = body->required_string("role", 32);
  if (!role_text) {
    return role_text.error();
  }
  auto sub = body->required_string("sub", 128);
  if (!sub) {
    return sub.error();
  }
  auto r = parse_role(*role_text);
  if (!r) {
    return make_error(error_kind::invalid_input, "field 'role' must be customer, agent, service or admin");
  }
  auto key = load_hs256_signing_key(app.config.auth, app.config.data_dir);
  if (!key) {
    return make_error(error_kind::unavailable, "the development signing key is not available");
  }
  auto token = mint_hs256_token(
      std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(key->data()), key->size()),
      app.config.auth.issuer, app.config.auth.audience, *r, *sub, app.clock.unix_seconds(), dev_token_ttl_seconds);
  crypto::secure_wipe(*key);
  if (!token) {
    return token.error();
  }
  json_writer json;
  json.begin_object().field("token", *token).field("expires_in", dev_token_ttl_seconds).end_object();
  crypto::secure_wipe(*token);
  return json_response(200, std::move(json).str()).with_header("Cache-Control", "no-store");
}

}  // namespace

void add_page_routes(router& routes, app_context& app) {
  for (auto [pattern, file] : {std::pair<std::string_view, std::string_view>{"/", "dashboard.html"},
                               {"/agent", "agent.html"},
                               {"/admin", "admin.html"}}) {
    routes.add(http_method::get, std::string(pattern),
               [&app, file = std::string(file)](http_request&) {
                 return handler_result(serve_file(app.config.web_root / file, "text/html; charset=utf-8"));
               },
               route_execution::worker)
        .accepting_any_query();  // a link's tracking parameters must not break a page
  }
  routes.add(http_method::get, "/static/{file}",
             [&app](http_request& r) { return handler_result(serve_static(app, r)); }, route_execution::worker)
      .accepting_any_query();
  routes.add(http_method::post, "/v1/dev/token",
             [&app](http_request& r) { return handler_result(dev_token(app, r)); }, route_execution::worker);
}

}  // namespace callsign::server
