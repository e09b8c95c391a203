#include "routes/route_support.hpp"
#include "server/json_writer.hpp"
#include "server/problem.hpp"
#include "server/routes.hpp"

namespace callsign::server {

void add_health_routes(router& routes, app_context& app) {
  // Liveness: the process answers.
  routes.add(http_method::get, "/healthz", [](http_request&) -> result<http_response> {
    http_response response;
    response.body = R"({"status":"ok"})";
    return response;
  });

  // Readiness: storage answers, its writes succeed, and we are not draining.
  routes.add(http_method::get, "/readyz", [&app](http_request&) -> handler_result {
    if (app.draining.load()) {
      return make_error(error_kind::unavailable, "shutting down");
    }
    if (!app.db.healthy()) {
      return make_error(error_kind::unavailable, "storage is not answering");
    }
    http_response ready;
    ready.body = R"({"status":"ready"})";
    if (app.writer == nullptr || !app.writer->stats().writes_failing) {
      return ready;
    }
    // Writes failed (a full disk): ready again once one succeeds. A small synced write of our
    // own tells, so a node the balancer took out of rotation is not left there for lack of traffic.
    return async_response{[&app, ready](std::function<void(handler_result)> resume) {
      storage::change_set probe;
      probe.put(storage::column_family::meta, "readyz_probe", std::to_string(app.clock.unix_seconds()));
      app.writer->submit(std::move(probe), [ready, resume](result<storage::commit_receipt> written) {
        resume(written ? handler_result(ready)
                       : handler_result(make_error(error_kind::unavailable,
                                                   "storage writes are failing; the server log has the cause")));
      });
    }};
  }, route_execution::worker);

  routes.add(http_method::get, "/metrics", [&app](http_request&) -> result<http_response> {
    http_response response;
    response.content_type = "text/plain; version=0.0.4; charset=utf-8";
    response.body = app.stats ? app.stats->prometheus_text() : std::string();
    if (app.writer != nullptr) response.body += commit_metrics_text(app.writer->stats());
    if (app.login != nullptr) response.body += app.login->metrics().prometheus_text();
    if (app.disk_pool != nullptr) response.body += disk_wait_metrics_text(app.disk_pool->tasks_run());
    return response;
  });
}

}  // namespace callsign::server
