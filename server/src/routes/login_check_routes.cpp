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

namespace callsign::server {

namespace {

// Wipes every secret it holds when it goes out of scope, on every path.
struct login_check_request {
  std::string ip;
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
  if (auto known = body->only({"ip", "username", "password", "device_serial"}); !known) return known.error();
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
  return out;
}

// What the route uses, complete at construction.
struct login_check_services {
  app_context& app;  // authentication, clock
  const login_limiter& login;
  list_registry& lists;
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
  auto signals = evaluate_login_check(snapshot.get(), services.login, input, now_ms(app));
  if (normalized) crypto::secure_wipe(*normalized);
  if (!signals) return signals.error();
  auto& counts = services.login.metrics();
  if (signals->open_proxy) counts.open_proxy_matches.fetch_add(1, std::memory_order_relaxed);
  if (signals->exposed_credential || signals->exposed_password) {
    counts.exposed_credential_matches.fetch_add(1, std::memory_order_relaxed);
  }
  (signals->blocked ? counts.checks_blocked : counts.checks_allowed).fetch_add(1, std::memory_order_relaxed);

  json_writer json;
  json.begin_object()
      .field("open_proxy", signals->open_proxy)
      .field("exposed_credential", signals->exposed_credential)
      .field("exposed_password", signals->exposed_password)
      .field("managed_device", signals->managed_device)
      .field("blocked", signals->blocked)
      .field("retry_after", signals->retry_after_seconds)
      .field("exposed_credential_check", signals->exposed_credential_check)
      .end_object();
  return json_response(200, std::move(json).str());
}

}  // namespace

void add_login_check_routes(router& routes, app_context& app) {
  if (app.login == nullptr || app.lists == nullptr) {
    throw std::logic_error("the login check route needs the login limiter and the lists");
  }
  // Memory and mmap'd sets only: answered on the I/O thread, like the gate.
  routes.add(http_method::post, "/v1/login/check",
             [services = login_check_services{app, *app.login, *app.lists}](http_request& r) {
               return login_check_route(services, r);
             });
}

}  // namespace callsign::server
