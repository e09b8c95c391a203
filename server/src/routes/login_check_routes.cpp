// POST /v1/login/check (service): the signals a login front-end asks for before it lets an
// attempt through. Answered from memory: the lists' snapshot (mmap'd set files included) and
// the failed-login blocks. The username and password are hashed where they lie and wiped; they
// are never stored, logged, audited or echoed (docs/login-check.md).
#include <stdexcept>

#include "crypto/constant_time.hpp"
#include "routes/route_support.hpp"
#include "server/http/json_body.hpp"
#include "server/http/json_writer.hpp"
#include "server/http/problem.hpp"
#include "server/lists/list_registry.hpp"
#include "server/login/login_check.hpp"
#include "server/login/login_limits.hpp"
#include "server/routes/routes.hpp"
#include "server/rules/login_decision.hpp"
#include "server/rules/rule_request.hpp"

namespace callsign::server {

namespace {

// Wipes every secret it holds when it goes out of scope, on every path.
struct login_check_request {
  std::string ip;
  rule_request http;  // what the rules see of the HTTP request (docs/rules.md)
  std::optional<std::string> username;
  std::optional<std::string> password;
  std::optional<std::string> device_serial;

  login_check_request() = default;
  login_check_request(const login_check_request&) = delete;
  login_check_request& operator=(const login_check_request&) = delete;
  login_check_request(login_check_request&&) = default;
  login_check_request& operator=(login_check_request&&) = default;
  ~login_check_request() {
    if (username) crypto::secure_wipe(*username);
    if (password) crypto::secure_wipe(*password);
  }
};

result<login_check_request> decode_login_check(const http_request& request) {
  auto body = json_body::parse(request);
  if (!body) return body.error();
  if (auto known = body->only({"ip", "username", "password", "device_serial", "path", "method", "host", "user_agent",
                               "headers", "bot_score"});
      !known) {
    return known.error();
  }
  login_check_request out;
  auto ip = body->required_string("ip", 64);
  if (!ip) return ip.error();
  out.ip = std::move(*ip);
  auto username = body->optional_string("username", 4 * max_login_username);
  if (!username) return username.error();
  out.username = std::move(*username);
  auto password = body->optional_string("password", max_login_password);
  if (!password) return password.error();
  out.password = std::move(*password);
  auto serial = body->optional_string("device_serial", 256);
  if (!serial) return serial.error();
  out.device_serial = std::move(*serial);
  auto http = decode_rule_request(*body);
  if (!http) return http.error();
  out.http = std::move(*http);
  return out;
}

// What the route uses, complete at construction.
struct login_check_services {
  app_context& app;  // authentication, clock
  const login_limiter& login;
  list_registry& lists;
  const rule_registry& rules;
};

// The rules' view of this attempt: the request's HTTP side plus the signals just computed.
rules::request_fields attempt_fields(const login_check_request& decoded, const ip_address& address,
                                     const login_signals& signals) {
  auto fields = rule_fields_of(decoded.http);
  fields.ip_src = address;
  fields.username_present = decoded.username.has_value();
  fields.exposed_credential = signals.exposed_credential;
  fields.exposed_password = signals.exposed_password;
  fields.device_managed = signals.managed_device;
  fields.device_serial_present = decoded.device_serial.has_value();
  return fields;
}

void write_ids(json_writer& json, std::string_view name, const std::vector<std::string_view>& ids) {
  json.key(name).begin_array();
  for (auto id : ids) json.value(id);
  json.end_array();
}

handler_result login_check_route(const login_check_services& services, http_request& request) {
  auto& app = services.app;
  auto who = caller(app, request, {role::service});
  if (!who) return who.error();
  auto decoded = decode_login_check(request);
  crypto::secure_wipe(request.body);  // held the password
  if (!decoded) return decoded.error();

  auto address = parse_ip_address(decoded->ip);
  if (!address) return make_error(error_kind::invalid_input, "field 'ip' must be an IPv4 or IPv6 address");
  std::optional<std::string> normalized;
  if (decoded->username) {
    auto valid = normalize_login_username(*decoded->username);
    if (!valid) return valid.error();
    normalized = std::move(*valid);
  }

  login_check_input input;
  input.address = *address;
  if (normalized) input.normalized_username = *normalized;
  if (decoded->password) input.password = *decoded->password;
  if (decoded->device_serial) input.device_serial = *decoded->device_serial;
  const auto snapshot = services.lists.snapshot();
  const auto now = now_ms(app);
  auto signals = evaluate_login_check(snapshot.get(), services.login, input, now);
  if (!signals) {
    if (normalized) crypto::secure_wipe(*normalized);
    return signals.error();
  }
  // Blocks first; then the rules, in order (docs/rules.md, "Where rules act").
  const auto rules = services.rules.current(*snapshot);
  login_decision decision;
  if (signals->blocked) {
    decision.action = login_action::block;
    decision.rule = signals->blocked_by_rule;
  } else {
    auto fields = attempt_fields(*decoded, *address, *signals);
    // The keyed hash check_login computed for the username's blocks; none without a username.
    std::optional<std::string_view> user_key;
    if (!signals->user_key.empty()) user_key = signals->user_key;
    auto rates = fill_rate_fields(*rules, services.login, *address, user_key, now, fields);
    if (!rates) {
      if (normalized) crypto::secure_wipe(*normalized);
      return rates.error();
    }
    decision = decide_by_rules(*rules, fields);
  }
  if (normalized) crypto::secure_wipe(*normalized);
  auto& counts = services.login.metrics();
  if (signals->open_proxy) counts.open_proxy_matches.fetch_add(1, std::memory_order_relaxed);
  if (signals->exposed_credential || signals->exposed_password) {
    counts.exposed_credential_matches.fetch_add(1, std::memory_order_relaxed);
  }
  switch (decision.action) {
    case login_action::block:
      counts.checks_blocked.fetch_add(1, std::memory_order_relaxed);
      break;
    case login_action::challenge:
      counts.checks_challenged.fetch_add(1, std::memory_order_relaxed);
      break;
    case login_action::allow:
      counts.checks_allowed.fetch_add(1, std::memory_order_relaxed);
      break;
  }
  for (auto id : decision.logged) {
    app.log.info("login rule matched", {{"request_id", request.request_id}, {"rule", std::string(id)}});
  }

  json_writer json;
  json.begin_object()
      .field("open_proxy", signals->open_proxy)
      .field("exposed_credential", signals->exposed_credential)
      .field("exposed_password", signals->exposed_password)
      .field("managed_device", signals->managed_device)
      .field("blocked", signals->blocked)
      .field("retry_after", signals->retry_after_seconds)
      .field("exposed_credential_check", signals->exposed_credential_check);
  json.key("decision").begin_object().field("action", login_action_name(decision.action)).key("rule_id");
  if (decision.rule) json.value(*decision.rule); else json.null();
  json.end_object();
  write_ids(json, "shadow_rules", decision.shadow);
  write_ids(json, "logged_rules", decision.logged);
  json.end_object();
  return json_response(200, std::move(json).str());
}

}  // namespace

void add_login_check_routes(router& routes, app_context& app) {
  if (app.login == nullptr || app.lists == nullptr || app.rules == nullptr) {
    throw std::logic_error("the login check route needs the login limiter, the lists and the rules");
  }
  // Memory and mmap'd sets only: answered on the I/O thread, like the gate.
  routes.add(http_method::post, "/v1/login/check",
             [services = login_check_services{app, *app.login, *app.lists, *app.rules}](http_request& r) {
               return login_check_route(services, r);
             });
}

}  // namespace callsign::server
