// Route groups. Each add_* registers thin handlers that call plain functions.
#pragma once

#include "server/app_context.hpp"
#include "server/http/router.hpp"

namespace callsign::server {

void add_health_routes(router& routes, app_context& app);
void add_user_routes(router& routes, app_context& app);
void add_me_routes(router& routes, app_context& app);
void add_authenticator_routes(router& routes, app_context& app);
void add_verify_routes(router& routes, app_context& app);
void add_audit_routes(router& routes, app_context& app);
void add_stream_routes(router& routes, app_context& app);
void add_admin_stream_routes(router& routes, app_context& app);  // /v1/admin/stream (issue 19)
void add_lists_routes(router& routes, app_context& app);  // /v1/admin/lists (issue 5)
void add_page_routes(router& routes, app_context& app);  // web pages, static files, dev tokens
void add_login_check_routes(router& routes, app_context& app);  // /v1/login/check
void add_login_routes(router& routes, app_context& app);        // /v1/login/result, /v1/login/gate
void add_admin_block_routes(router& routes, app_context& app);  // /v1/admin/blocks
void add_admin_rules_routes(router& routes, app_context& app);  // /v1/admin/rules (issue 19)

// All groups, in the order they are matched.
router build_router(app_context& app);

}  // namespace callsign::server
