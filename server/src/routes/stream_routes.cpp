// GET /v1/stream: an upgrading route (its Origin check runs before the handover; without an
// Upgrade it answers 426), and the socket-free parts of the stream protocol. The WebSocket
// session itself is in server/src/net/stream_session.cpp.
#include <algorithm>

#include "crypto/totp.hpp"
#include "routes/route_support.hpp"
#include "server/http/json_body.hpp"
#include "server/http/problem.hpp"
#include "server/routes/routes.hpp"
#include "server/users/waiting_user_lookup.hpp"
#include "server/stream/stream_auth.hpp"
#include "server/stream/stream_hub.hpp"

namespace callsign::server {

bool stream_origin_allowed(const stream_config& config, std::optional<std::string_view> origin) {
  if (!origin) {
    return true;
  }
  return std::find(config.allowed_origins.begin(), config.allowed_origins.end(), *origin) !=
         config.allowed_origins.end();
}

bool stream_origin_allowed(const stream_config& config, std::optional<std::string_view> origin,
                           std::optional<std::string_view> host) {
  if (origin && host && !host->empty()) {
    for (std::string_view scheme : {"http://", "https://"}) {
      if (origin->size() == scheme.size() + host->size() && origin->starts_with(scheme) &&
          origin->substr(scheme.size()) == *host) {
        return true;
      }
    }
  }
  return stream_origin_allowed(config, origin);
}

stream_token stream_token_at(const app_context& app, std::string_view user, std::int64_t now) {
  stream_token out;
  out.step = crypto::totp_step(app.config.phone_token, now);
  out.message = stream_token_message(phone_token_json(app, user, now));
  return out;
}

result<stream_grant> authenticate_stream(const app_context& app, std::string_view first_message) {
  // json_body reads request bodies; the auth message is parsed the same way.
  http_request as_request;
  as_request.headers.push_back({"content-type", "application/json"});
  as_request.body = std::string(first_message);
  auto body = json_body::parse(as_request);
  if (!body) {
    return make_error(error_kind::invalid_input, "the first message must be {\"type\":\"auth\",\"token\":...}");
  }
  if (auto known = body->only({"type", "token"}); !known) {
    return known.error();
  }
  auto type = body->required_string("type", 16);
  if (!type || *type != "auth") {
    return make_error(error_kind::invalid_input, "the first message must be {\"type\":\"auth\",\"token\":...}");
  }
  auto token = body->required_string("token", 8192);
  if (!token) {
    return token.error();
  }
  if (app.verifier == nullptr) {
    return make_error(error_kind::unavailable, "authentication is not configured");
  }
  auto who = app.verifier->verify(*token, app.clock.unix_seconds());
  if (!who) {
    return make_error(error_kind::unauthorized, "invalid or expired token");
  }
  if (auto allowed = require_role(*who, {role::customer}); !allowed) {
    return allowed.error();
  }
  auto user = eligible_customer(app, *who);
  if (!user) {
    return user.error();
  }
  return stream_grant{std::move(user->id), who->valid_until};
}

namespace {

stream_access access_of(const result<storage::user_record>& eligible) {
  if (eligible) {
    return stream_access::allowed;
  }
  switch (eligible.error().kind) {
    case error_kind::not_found:
      return stream_access::no_account;
    case error_kind::forbidden:
      return stream_access::no_phone_support;
    default:
      return stream_access::unknown;
  }
}

}  // namespace

stream_access stream_user_access(const app_context& app, std::string_view user) {
  return access_of(eligible_customer(app, principal{role::customer, std::string(user)}));
}

std::shared_ptr<const stream_token_table> build_stream_token_table(const app_context& app,
                                                                   std::vector<std::string> users,
                                                                   std::int64_t boundary) {
  // Every user's record is asked for at once: one pipelined batch on a networked directory.
  auto found = find_users_waiting(*app.user_directory, users);
  std::vector<stream_token_table::entry> entries;
  entries.reserve(users.size());
  for (std::size_t i = 0; i < users.size(); ++i) {
    stream_token_table::entry e;
    e.access = access_of(customer_eligibility(std::move(found[i])));
    if (e.access == stream_access::allowed) {
      auto token = stream_token_at(app, users[i], boundary);
      e.step = token.step;
      e.message = std::make_shared<const std::string>(std::move(token.message));
    }
    e.user = std::move(users[i]);
    entries.push_back(std::move(e));
  }
  return std::make_shared<const stream_token_table>(std::move(entries), boundary);
}

void add_stream_routes(router& routes, app_context& app) {
  const stream_config& config = app.config.stream;
  routes.add_upgrade(
      http_method::get, "/v1/stream",
      [](http_request&) -> handler_result {
        return problem_response(426, "Upgrade Required", "GET /v1/stream is a WebSocket endpoint")
            .with_header("Upgrade", "websocket");
      },
      [&config](const http_request& request) -> std::optional<http_response> {
        if (stream_origin_allowed(config, request.header("origin"), request.header("host"))) return std::nullopt;
        // Refused before the upgrade: a foreign page must not open a customer's stream.
        return problem_response(403, "Forbidden", "this Origin may not open the stream");
      });
}

}  // namespace callsign::server
