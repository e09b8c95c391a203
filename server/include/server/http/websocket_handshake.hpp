// The opening handshake a WebSocket upgrade request must carry (RFC 6455 §4.2.1), checked
// before the route's own check and the handover to Beast, so that every refusal is a
// problem+json reply decided here, and a 101 is counted only for a handshake Beast will accept.
#pragma once

#include <optional>

#include "server/http/http_types.hpp"

namespace callsign::server {

// nullopt when the upgrade request is well formed. Otherwise the reply: 426 with
// `Sec-WebSocket-Version: 13` for another version (§4.4), 400 for a Sec-WebSocket-Key that is not
// 16 bytes in base64 or a missing one. The caller has checked Upgrade and Connection.
std::optional<http_response> websocket_handshake_problem(const http_request& request);

}  // namespace callsign::server
