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
    return response;
  });
}

router build_router(app_context& app) {
  router routes;
  add_health_routes(routes, app);
  add_user_routes(routes, app);
  add_me_routes(routes, app);
  add_authenticator_routes(routes, app);
  add_verify_routes(routes, app);
  add_audit_routes(routes, app);
  add_stream_routes(routes, app);
  add_login_check_routes(routes, app);
  add_login_routes(routes, app);
  add_admin_block_routes(routes, app);
  add_lists_routes(routes, app);
  add_page_routes(routes, app);
  return routes;
}

}  // namespace callsign::server
