// POST /v1/admin/users/import, added by add_user_routes (users_routes.cpp).
#pragma once

#include "server/app_context.hpp"
#include "server/http/router.hpp"

namespace callsign::server {

void add_user_import_route(router& routes, app_context& app);

}  // namespace callsign::server
