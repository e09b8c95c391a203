// POST /v1/login/check (service): the signals a login front-end asks for before it lets an
// attempt through. Answered from memory: the lists' snapshot (mmap'd set files included) and
// the failed-login blocks, and, when the rules read rate.login_failures.*, the failure counts
// (storage/login_counts.hpp: inline on one node, one round trip on shared state). The username and
// password are hashed where they lie and wiped; they are never stored, logged, audited, echoed or
// kept for a continuation (docs/login-check.md).
#include <memory>
#include <stdexcept>

#include "crypto/constant_time.hpp"
#include "routes/rate_counts_read.hpp"
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
  storage::login_counts& counts;  // rate.login_failures.*: inline (embedded) or one round trip (Redis)
};

// The rules' view of this attempt: the request's HTTP side (views into `http`) plus the signals
// just computed.
rules::request_fields attempt_fields(const rule_request& http, bool username_present, bool device_serial_present,
                                     const ip_address& address, const login_signals& signals) {
  auto fields = rule_fields_of(http);
  fields.ip_src = address;
  fields.username_present = username_present;
  fields.exposed_credential = signals.exposed_credential;
  fields.exposed_password = signals.exposed_password;
  fields.device_managed = signals.managed_device;
  fields.device_serial_present = device_serial_present;
  return fields;
}

void write_ids(json_writer& json, std::string_view name, const std::vector<std::string_view>& ids) {
  json.key(name).begin_array();
  for (auto id : ids) json.value(id);
  json.end_array();
}

// Counts what the answer says, logs the `log` rules and writes the reply.
http_response answer_check(const login_check_services& services, std::string_view request_id,
                           const login_signals& signals, const login_decision& decision) {
  auto& counts = services.login.metrics();
  if (signals.open_proxy) counts.open_proxy_matches.fetch_add(1, std::memory_order_relaxed);
  if (signals.exposed_credential || signals.exposed_password) {
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
    services.app.log.info("login rule matched", {{"request_id", std::string(request_id)}, {"rule", std::string(id)}});
  }

  json_writer json;
  json.begin_object()
      .field("open_proxy", signals.open_proxy)
      .field("exposed_credential", signals.exposed_credential)
      .field("exposed_password", signals.exposed_password)
      .field("managed_device", signals.managed_device)
      .field("blocked", signals.blocked)
      .field("retry_after", signals.retry_after_seconds)
      .field("exposed_credential_check", signals.exposed_credential_check);
  json.key("decision").begin_object().field("action", login_action_name(decision.action)).key("rule_id");
  if (decision.rule) json.value(*decision.rule); else json.null();
  json.end_object();
  write_ids(json, "shadow_rules", decision.shadow);
  write_ids(json, "logged_rules", decision.logged);
  json.end_object();
  return json_response(200, std::move(json).str());
}

// A check waiting for its rate counts from a backend that does not answer inline (Redis). It
// holds no username or password: only the HTTP side, the signals and the username's keyed hash
// (in the counter keys).
struct check_in_flight {
  login_check_services services;
  std::string request_id;
  rule_request http;  // what fields' views point into
  rules::request_fields fields;
  login_signals signals;
  std::shared_ptr<const installed_rules> rules;  // alive until the reply (the decision's views)
  rate_field_reads reads;
};

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
  // Nothing below reads the username in clear: its keyed hash is in signals->user_key.
  if (normalized) crypto::secure_wipe(*normalized);
  if (!signals) return signals.error();
  // Blocks first; then the rules, in order (docs/rules.md, "Where rules act").
  auto rules = services.rules.current(*snapshot);
  if (signals->blocked) {
    login_decision decision;
    decision.action = login_action::block;
    decision.rule = signals->blocked_by_rule;
    return answer_check(services, request.request_id, *signals, decision);
  }
  // The keyed hashes check_login computed for the username's blocks (the previous key version's
  // within a rotation's horizon); none without a username.
  std::optional<std::string_view> user_key;
  std::optional<std::string_view> previous_user_key;
  if (!signals->user_key.empty()) user_key = signals->user_key;
  if (!signals->previous_user_key.empty()) previous_user_key = signals->previous_user_key;
  auto reads = plan_rate_fields(*rules, *address, user_key, previous_user_key);
  const bool username_present = decoded->username.has_value();
  const bool serial_present = decoded->device_serial.has_value();
  // No count to read, or counts the backend has at once (one node): answered here.
  std::optional<result<void>> read_now;
  if (reads.size != 0) read_now = services.counts.read_inline(now, reads.read_keys(), reads.read_counts());
  if (reads.size == 0 || read_now) {
    if (read_now && !*read_now) return read_now->error();
    auto fields = attempt_fields(decoded->http, username_present, serial_present, *address, *signals);
    apply_rate_counts(reads, fields);
    return answer_check(services, request.request_id, *signals, decide_by_rules(*rules, fields));
  }
  // One round trip for the counts (shared state). `decoded` (username, password) is wiped when
  // this returns; the continuation holds only what check_in_flight says.
  auto run = std::make_shared<check_in_flight>(check_in_flight{
      services, request.request_id, std::move(decoded->http), {}, std::move(*signals), std::move(rules),
      std::move(reads)});
  run->fields = attempt_fields(run->http, username_present, serial_present, *address, run->signals);
  return decide_after_counts(services.counts, now, std::move(run),
                             [](const check_in_flight& done, const login_decision& ruled) {
                               return answer_check(done.services, done.request_id, done.signals, ruled);
                             });
}

}  // namespace

void add_login_check_routes(router& routes, app_context& app) {
  if (app.login == nullptr || app.lists == nullptr || app.rules == nullptr || app.login_counts == nullptr) {
    throw std::logic_error("the login check route needs the login limiter, the lists, the rules and the counts");
  }
  // Memory and mmap'd sets: answered on the I/O thread, like the gate; rules that read
  // rate.login_failures.* on shared state wait for one round trip through an async_response.
  routes.add(http_method::post, "/v1/login/check",
             [services = login_check_services{app, *app.login, *app.lists, *app.rules, *app.login_counts}](
                 http_request& r) {
               return login_check_route(services, r);
             });
}

}  // namespace callsign::server
