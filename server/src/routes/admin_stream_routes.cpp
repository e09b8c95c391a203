// GET /v1/admin/stream: the admin console's live series over a WebSocket (docs/admin-console.md).
// An upgrading route of kind admin_stream: the net layer's stream session runs it with the auth
// and first message below instead of the customer stream's.
#include "routes/route_support.hpp"
#include "server/http/json_body.hpp"
#include "server/http/problem.hpp"
#include "server/observability/live_series.hpp"
#include "server/routes/routes.hpp"
#include "server/stream/admin_stream.hpp"
#include "server/stream/stream_hub.hpp"

namespace callsign::server {

result<stream_grant> authenticate_admin_stream(const app_context& app, std::string_view first_message) {
  http_request as_request;  // parsed the way request bodies are
  as_request.headers.push_back({"content-type", "application/json"});
  as_request.body = std::string(first_message);
  auto body = json_body::parse(as_request);
  const auto expected = [] {
    return make_error(error_kind::invalid_input, "the first message must be {\"type\":\"auth\",\"token\":...}");
  };
  if (!body) return expected();
  if (auto known = body->only({"type", "token"}); !known) return known.error();
  auto type = body->required_string("type", 16);
  if (!type || *type != "auth") return expected();
  auto token = body->required_string("token", 8192);
  if (!token) return token.error();
  if (app.verifier == nullptr) return make_error(error_kind::unavailable, "authentication is not configured");
  auto who = app.verifier->verify(*token, app.clock.unix_seconds());
  if (!who) return make_error(error_kind::unauthorized, "invalid or expired token");
  if (auto allowed = require_role(*who, {role::admin}); !allowed) return allowed.error();
  return stream_grant{std::move(who->subject), who->valid_until};
}

std::string admin_stream_history(const app_context& app) {
  return live_history_message(app.live != nullptr ? app.live->snapshot() : live_history{});
}

void publish_admin_tick(const app_context& app, std::int64_t second) {
  if (app.live == nullptr || !app.live->tick(second)) return;
  if (app.admin_streams == nullptr || app.admin_streams->size() == 0) return;
  auto message = std::make_shared<const std::string>(live_tick_message(app.live->last_tick()));
  for (const auto& admin : app.admin_streams->users()) app.admin_streams->publish(admin, message);
}

void add_admin_stream_routes(router& routes, app_context& app) {
  const stream_config& config = app.config.stream;
  routes.add_upgrade(
      http_method::get, "/v1/admin/stream",
      [](http_request&) -> handler_result {
        return problem_response(426, "Upgrade Required", "GET /v1/admin/stream is a WebSocket endpoint")
            .with_header("Upgrade", "websocket");
      },
      [&config](const http_request& request) -> std::optional<http_response> {
        if (stream_origin_allowed(config, request.header("origin"), request.header("host"))) return std::nullopt;
        return problem_response(403, "Forbidden", "this Origin may not open the stream");
      },
      upgrade_kind::admin_stream);
}

}  // namespace callsign::server
