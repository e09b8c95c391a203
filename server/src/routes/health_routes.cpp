#include <stdexcept>

#include "routes/route_support.hpp"
#include "server/http/json_writer.hpp"
#include "server/http/problem.hpp"
#include "server/routes/routes.hpp"
#include "server/rules/rule_registry.hpp"

namespace callsign::server {

namespace {

// What the probes use, complete at construction. app.stats stays a per-request read: main sets
// it after the router exists (the metrics need its route labels); app.login and app.disk_pool
// each only add a metrics section, and test worlds (storage_failure_test, the fuzz world) run
// without one of them.
struct health_services {
  app_context& app;  // draining, db, clock, stats, login, disk_pool
  storage::commit_sink& writer;
};

handler_result readiness(const health_services& services) {
  auto& app = services.app;
  if (app.draining.load()) {
    return make_error(error_kind::unavailable, "shutting down");
  }
  if (!app.db.healthy()) {
    return make_error(error_kind::unavailable, "storage is not answering");
  }
  if (app.shared_state_unready) {
    if (auto reason = app.shared_state_unready(); !reason.empty()) {
      return make_error(error_kind::unavailable, reason);
    }
  }
  http_response ready;
  ready.body = R"({"status":"ready"})";
  if (!services.writer.stats().writes_failing) {
    return ready;
  }
  // Writes failed (a full disk): ready again once one succeeds. A small synced write of our
  // own tells, so a node the balancer took out of rotation is not left there for lack of traffic.
  return async_response{[services, ready](std::function<void(handler_result)> resume) {
    storage::change_set probe;
    probe.put(storage::column_family::meta, "readyz_probe", std::to_string(services.app.clock.unix_seconds()));
    services.writer.submit(std::move(probe), [ready, resume](result<storage::commit_receipt> written) {
      resume(written ? handler_result(ready)
                     : handler_result(make_error(error_kind::unavailable,
                                                 "storage writes are failing; the server log has the cause")));
    });
  }};
}

http_response metrics_text(const health_services& services) {
  const auto& app = services.app;
  http_response response;
  response.content_type = "text/plain; version=0.0.4; charset=utf-8";
  response.body = app.stats ? app.stats->prometheus_text() : std::string();
  response.body += commit_metrics_text(services.writer.stats());
  if (app.login != nullptr) response.body += app.login->metrics().prometheus_text();
  if (app.rules != nullptr) response.body += app.rules->prometheus_text();
  response.body += app.verify_counts.prometheus_text();
  if (app.disk_pool != nullptr) response.body += disk_wait_metrics_text(app.disk_pool->tasks_run());
  if (app.shared_state_metrics) response.body += app.shared_state_metrics();
  return response;
}

}  // namespace

void add_health_routes(router& routes, app_context& app) {
  if (app.writer == nullptr) throw std::logic_error("the health routes need the commit sink");
  const health_services services{app, *app.writer};
  // Liveness: the process answers.
  routes.add(http_method::get, "/healthz", [](http_request&) -> result<http_response> {
    http_response response;
    response.body = R"({"status":"ok"})";
    return response;
  });
  // Readiness: storage answers, its writes succeed, and we are not draining.
  routes.add(http_method::get, "/readyz", [services](http_request&) { return readiness(services); },
             route_execution::worker);
  routes.add(http_method::get, "/metrics",
             [services](http_request&) -> handler_result { return metrics_text(services); });
}

}  // namespace callsign::server
