// The route table: every endpoint callsignd serves, group by group, in the order they are
// matched. The session layer names no path: it asks the router, and each route says how its body
// is read (buffered, streamed, upgrade; server/http/router.hpp). Adding an endpoint means one route
// group file (add_*_routes, registered here once per group) and its entry in docs/openapi.yaml
// (docs/architecture.md, "Adding an endpoint").
#include "server/routes/routes.hpp"

namespace callsign::server {

router build_router(app_context& app) {
  router routes;
  add_health_routes(routes, app);
  add_user_routes(routes, app);
  add_me_routes(routes, app);
  add_authenticator_routes(routes, app);
  add_verify_routes(routes, app);
  add_audit_routes(routes, app);
  add_stream_routes(routes, app);
  add_admin_stream_routes(routes, app);
  add_login_check_routes(routes, app);
  add_login_routes(routes, app);
  add_admin_block_routes(routes, app);
  add_admin_rules_routes(routes, app);
  add_lists_routes(routes, app);
  add_page_routes(routes, app);
  return routes;
}

}  // namespace callsign::server
