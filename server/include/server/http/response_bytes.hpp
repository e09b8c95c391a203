// An http_response as the bytes of an HTTP/1.x response: status line, headers, body. The session
// layer writes these bytes with one gather-free write; building them costs no allocation when
// `out` is reused across a connection's responses.
#pragma once

#include <string>
#include <string_view>

#include "server/http/http_types.hpp"

namespace callsign::server {

struct response_framing {
  unsigned version = 11;  // 10 or 11, as the request's
  bool keep_alive = true;
  bool head = false;  // a HEAD request: headers (with the GET's Content-Length), no body
  std::string_view request_id;
};

// Replaces `out` with the response. Every response carries Server, Cache-Control: no-store,
// X-Content-Type-Options: nosniff and X-Request-Id (when given); a route's header of the same
// name replaces a default, and a later route header replaces an earlier one of the same name.
// Content-Length is the body's size, except for 1xx, 204 and 304, which have none. Connection
// follows `keep_alive` for the version: "close" for HTTP/1.1, "keep-alive" for HTTP/1.0. A header
// whose name is not an RFC 9110 token is left out, and control characters in a value become
// spaces, so a value can never split the header block.
void serialize_response(const http_response& response, const response_framing& framing, std::string& out);

}  // namespace callsign::server
