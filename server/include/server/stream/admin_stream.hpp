// The socket-free half of GET /v1/admin/stream, the admin console's live series
// (docs/admin-console.md). The net layer's stream session calls these for an admin_stream route.
#pragma once

#include <string_view>

#include "crypto/result.hpp"
#include "server/app_context.hpp"
#include "server/stream/stream_auth.hpp"

namespace callsign::server {

// Checks the first client message {"type":"auth","token":"<JWT>"}: a valid admin token. The
// grant's user is the admin's subject. Error messages never contain the token.
result<stream_grant> authenticate_admin_stream(const app_context& app, std::string_view first_message);

// {"type":"history",...} of app.live's last hour: the first message after the auth.
std::string admin_stream_history(const app_context& app);

// Ticks app.live for the unix second that just ended and sends the tick to every admin stream.
// Called once a second by the net layer's timer.
void publish_admin_tick(const app_context& app, std::int64_t second);

}  // namespace callsign::server
