// POST /v1/login/result (service): a login front-end reports each outcome; failures count
// toward the login rules, and a reply is sent only once the counters, any new block and the
// audit entries are synced (deferred response). GET /v1/login/gate: nginx auth_request.
// Usernames appear nowhere but as their keyed hash; passwords are never sent here.
#include <memory>
#include <stdexcept>

#include "crypto/constant_time.hpp"
#include "routes/rate_counts_read.hpp"
#include "routes/route_support.hpp"
#include "server/http/json_body.hpp"
#include "server/http/json_writer.hpp"
#include "server/http/problem.hpp"
#include "server/lists/list_registry.hpp"
#include "server/login/login_gate.hpp"
#include "server/rules/login_decision.hpp"
#include "server/rules/rule_request.hpp"
#include "server/routes/routes.hpp"

namespace callsign::server {

namespace {

struct login_result_request {
  ip_address address;
  std::string normalized_username;
  bool success = false;
  std::int64_t status = 0;  // the login page's HTTP status, for http.response.code (0: not sent)
};

result<login_result_request> decode_login_result(const http_request& request) {
  auto body = json_body::parse(request);
  if (!body) return body.error();
  if (auto known = body->only({"ip", "username", "success", "status"}); !known) return known.error();
  auto ip = body->required_string("ip", 64);
  if (!ip) return ip.error();
  auto address = parse_ip_address(*ip);
  if (!address) {
    return make_error(error_kind::invalid_input, "field 'ip' must be an IPv4 or IPv6 address");
  }
  auto username = body->required_string("username", 4 * max_login_username);
  if (!username) return username.error();
  auto normalized = normalize_login_username(*username);
  crypto::secure_wipe(*username);
  if (!normalized) return normalized.error();
  auto success = body->required_bool("success");
  if (!success) return success.error();
  auto status = body->optional_integer("status", 100, 599);
  if (!status) return status.error();
  return login_result_request{*address, std::move(*normalized), *success, status->value_or(0)};
}

std::string group_text(const ip_address& address) {
  return login_block_key(login_key_kind::ip, address, {});
}

void audit_login_result(app_context& app, const principal& who, const http_request& request,
                        const login_result_request& decoded, const login_result_outcome& outcome,
                        storage::change_set& changes) {
  auto audit = audit_for(app, who, request, "login.result", "");
  audit.outcome = decoded.success ? "success" : "failure";
  audit.details.emplace_back("ip", group_text(decoded.address));
  audit.details.emplace_back("user_key", outcome.user_key);
  if (outcome.state.blocked) audit.details.emplace_back("blocked_by", outcome.state.matched_key);
  if (!outcome.shadow_trips.empty()) {
    // One detail (keys must be unique): "rule key; rule key", within the 1024-byte limit.
    std::string trips;
    for (const auto& trip : outcome.shadow_trips) {
      const auto item = trip.rule + " " + trip.key;
      if (trips.size() + item.size() + 2 > 1024) break;
      trips += (trips.empty() ? "" : "; ") + item;
    }
    audit.details.emplace_back("shadow_trips", std::move(trips));
  }
  changes.add_audit(std::move(audit));
  for (const auto& block : outcome.newly_blocked) {
    auto entry = audit_for(app, who, request, "login.block", "");
    entry.outcome = "blocked";
    entry.details.emplace_back("key", block.key);
    entry.details.emplace_back("rule", block.rule);
    entry.details.emplace_back("until", std::to_string(block.until_ms / 1000));
    changes.add_audit(std::move(entry));
  }
}

// What the routes use, complete at construction.
struct login_services {
  app_context& app;  // authentication, clock, log, config, the gate's open-proxy lookup
  const login_limiter& login;
  storage::login_attempts& attempts;
  rule_registry& rules;
  storage::login_counts& counts;  // rate.login_failures.ip at the gate
};

handler_result login_result(const login_services& services, http_request& request) {
  auto& app = services.app;
  auto who = caller(app, request, {role::service});
  if (!who) return who.error();
  auto decoded = decode_login_result(request);
  crypto::secure_wipe(request.body);
  if (!decoded) return decoded.error();
  struct in_flight {
    login_result_request decoded;
    principal who;
    http_request request;  // its header fields for the audit entries (the body is wiped)
    deferred_response deferred;
    std::shared_ptr<const installed_rules> rules;  // its rate-limit rules, alive until the reply
  };
  auto run = std::make_shared<in_flight>(in_flight{std::move(*decoded), *who, request, {}, services.rules.published()});
  const auto now = now_ms(app);
  return async_response{[&services, &app, run, now](std::function<void(handler_result)> resume) {
    record_login_result(
        services.login, run->rules->rate_rules_view(), services.attempts, run->decoded.address,
        run->decoded.normalized_username, login_outcome{run->decoded.success, run->decoded.status}, now,
        run->deferred.changes,
        [&app, run, resume = std::move(resume)](result<login_result_outcome> outcome) {
          crypto::secure_wipe(run->decoded.normalized_username);
          if (!outcome) {
            // The backend may already hold the count (or a block) it did not confirm: the report
            // is journaled as "failed" before the 503, as a verify is.
            auto audit = audit_for(app, run->who, run->request, "login.result", "");
            storage::mark_failed_attempt(audit, outcome.error());
            audit.details.emplace_back("ip", group_text(run->decoded.address));
            audit.details.emplace_back("reported", run->decoded.success ? "success" : "failure");
            run->deferred.changes.add_audit(std::move(audit));
            run->deferred.finish = [failure = outcome.error()](const result<storage::commit_receipt>&) {
              return error_response(failure);
            };
            resume(std::move(run->deferred));
            return;
          }
          audit_login_result(app, run->who, run->request, run->decoded, *outcome, run->deferred.changes);
          run->deferred.finish = [&app, decided = std::move(*outcome)](const result<storage::commit_receipt>&) {
            for (const auto& trip : decided.shadow_trips) {
              app.log.info("login shadow rule tripped",
                           {{"rule", trip.rule}, {"key", trip.key}, {"failures", trip.failures}});
            }
            for (const auto& block : decided.newly_blocked) {
              app.log.warn("login block set", {{"rule", block.rule},
                                               {"key", block.key},
                                               {"until", static_cast<std::int64_t>(block.until_ms / 1000)}});
            }
            json_writer json;
            json.begin_object()
                .field("blocked", decided.state.blocked)
                .field("retry_after", decided.state.retry_after_seconds)
                .end_object();
            return json_response(200, std::move(json).str());
          };
          resume(std::move(run->deferred));
        });
  }};
}

http_response gate_allowed() {
  http_response allowed;
  allowed.status = 204;
  allowed.content_type.clear();
  return allowed;
}

// The gate's answer once the rules decided (`ruled`; nothing decided when no rule is installed).
http_response answer_gate(const login_services& services, std::string_view request_id, const gate_decision& decision,
                          const login_decision& ruled) {
  auto& counts = services.login.metrics();
  for (auto id : ruled.logged) {
    services.app.log.info("login rule matched", {{"request_id", std::string(request_id)}, {"rule", std::string(id)}});
  }
  switch (ruled.action) {
    case login_action::block:
      counts.checks_blocked.fetch_add(1, std::memory_order_relaxed);
      counts.gate_rule_blocked.fetch_add(1, std::memory_order_relaxed);
      return error_response(make_error(error_kind::forbidden, "this login attempt is refused"));
    case login_action::challenge:
      counts.checks_challenged.fetch_add(1, std::memory_order_relaxed);
      counts.gate_challenged.fetch_add(1, std::memory_order_relaxed);
      // 401 is one of the statuses auth_request passes on; the header tells nginx it is a
      // challenge (docs/login-gate.md shows the error_page that turns it into one).
      return problem_response(401, "Unauthorized", "complete a challenge before logging in")
          .with_header("WWW-Authenticate", "Callsign-Challenge")
          .with_header("X-Callsign-Action", "challenge");
    case login_action::allow:
      break;
  }
  // The one-switch rule of issue 5 applies only when no rule decided.
  if (!ruled.rule && decision.verdict == gate_verdict::open_proxy) {
    counts.checks_blocked.fetch_add(1, std::memory_order_relaxed);
    counts.gate_open_proxy.fetch_add(1, std::memory_order_relaxed);
    return error_response(make_error(error_kind::forbidden, "logins through open proxies are refused"));
  }
  counts.checks_allowed.fetch_add(1, std::memory_order_relaxed);
  counts.gate_allowed.fetch_add(1, std::memory_order_relaxed);
  return gate_allowed();
}

// A gate request waiting for its rate count from a backend that does not answer inline (Redis).
struct gate_in_flight {
  const login_services& services;
  std::string request_id;
  gate_decision decision;
  rule_request http;  // what fields' views point into
  rules::request_fields fields;
  std::shared_ptr<const installed_rules> rules;  // alive until the reply (the decision's views)
  rate_field_reads reads;
};

handler_result login_gate(const login_services& services, http_request& request) {
  auto& app = services.app;
  auto client = gate_client_address(request.remote_address, request.header("x-forwarded-for"),
                                    request.header("x-real-ip"), app.config.login.trusted_proxies);
  if (!client) return client.error();
  const auto now = now_ms(app);
  auto decision = decide_gate(services.login, *client, app.open_proxies, now);
  if (!decision) return decision.error();
  if (decision->verdict == gate_verdict::blocked) {
    services.login.metrics().checks_blocked.fetch_add(1, std::memory_order_relaxed);
    return error_response(make_error(error_kind::rate_limited, "too many failed logins; try again later"))
        .with_header("Retry-After", std::to_string(decision->retry_after_seconds));
  }
  // Then the rules, over what nginx forwards (docs/login-gate.md, "Rules at the gate").
  const auto snapshot = app.lists->snapshot();
  auto rules = services.rules.current(*snapshot);
  if (rules->set->rules().empty()) return answer_gate(services, request.request_id, *decision, {});
  const auto& score_header = services.rules.config().bot_score_header;
  auto http = gate_rule_request(request, score_header);
  if (request.header(score_header) && !http.bot_score) {
    // A detector sending something else is misconfigured: say so rather than read "no score".
    return make_error(error_kind::invalid_input, "header " + score_header + " must be an integer from 1 to 99");
  }
  auto reads = plan_rate_fields(*rules, *client, std::nullopt, std::nullopt);
  // No count to read, or a count the backend has at once (one node): answered here.
  std::optional<result<void>> read_now;
  if (reads.size != 0) read_now = services.counts.read_inline(now, reads.read_keys(), reads.read_counts());
  if (reads.size == 0 || read_now) {
    if (read_now && !*read_now) return read_now->error();
    auto fields = rule_fields_of(http);
    fields.ip_src = *client;
    apply_rate_counts(reads, fields);
    return answer_gate(services, request.request_id, *decision, decide_by_rules(*rules, fields));
  }
  // One round trip for the count (shared state).
  auto run = std::make_shared<gate_in_flight>(
      gate_in_flight{services, request.request_id, *decision, std::move(http), {}, std::move(rules), std::move(reads)});
  run->fields = rule_fields_of(run->http);
  run->fields.ip_src = *client;
  return decide_after_counts(services.counts, now, std::move(run),
                             [](const gate_in_flight& done, const login_decision& ruled) {
                               return answer_gate(done.services, done.request_id, done.decision, ruled);
                             });
}

}  // namespace

void add_login_routes(router& routes, app_context& app) {
  if (app.login == nullptr || app.login_attempts == nullptr || app.rules == nullptr || app.lists == nullptr ||
      app.login_counts == nullptr) {
    throw std::logic_error("login routes need the login limiter, the attempt backend, the rules, the lists and "
                           "the counts");
  }
  auto services = std::make_shared<login_services>(
      login_services{app, *app.login, *app.login_attempts, *app.rules, *app.login_counts});
  // On the I/O thread: the one backend operation answers inline or calls back; no thread waits.
  routes.add(http_method::post, "/v1/login/result", [services](http_request& r) { return login_result(*services, r); });
  // Memory only in the embedded backend: answered on the I/O thread. On shared state, rules that
  // read rate.login_failures.ip wait for one round trip (an async_response).
  routes.add(http_method::get, "/v1/login/gate", [services](http_request& r) { return login_gate(*services, r); });
}

}  // namespace callsign::server
