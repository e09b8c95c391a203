// The network layer (Beast, C++20 coroutines). Only this header's implementation sees Asio.
#pragma once

#include "server/app_context.hpp"
#include "server/http/router.hpp"

namespace callsign::server {

// Binds, serves until SIGINT/SIGTERM, drains in-flight requests, returns the process exit code.
int serve_http(app_context& app, const router& routes);

}  // namespace callsign::server
