// Plain request/response values passed between the session layer and route handlers.
// No Beast types here, so handlers are testable without sockets.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "storage/round_trip_tally.hpp"

namespace callsign::server {

enum class http_method { get, head, post, put, patch, delete_, options, other };

http_method parse_http_method(std::string_view text) noexcept;

// An RFC 9110 token (a field name, a method): one or more of ALPHA, DIGIT and !#$%&'*+-.^_`|~.
bool is_http_token(std::string_view text) noexcept;
std::string_view http_method_name(http_method method) noexcept;

// ASCII case-insensitive equality, as header names and auth schemes compare (RFC 9110).
bool ascii_iequals(std::string_view a, std::string_view b) noexcept;

struct http_header {
  std::string name;  // lower-case
  std::string value;
};

struct http_request {
  http_method method = http_method::get;
  std::string target;  // raw request-target
  std::string path;    // target without query, not percent-decoded
  std::string query;   // after '?', may be empty
  std::vector<http_header> headers;
  std::string body;
  std::string remote_address;
  std::string request_id;
  // Filled by the router from the matched pattern, e.g. {"id", "u123"}.
  std::vector<std::pair<std::string, std::string>> path_params;
  // Several nodes: the round trips to Redis this request made (storage/round_trip_tally.hpp),
  // set by the session before the route runs; null on one node.
  storage::round_trip_tally round_trips;

  // Case-insensitive header lookup. Every name is unique: the session refuses repeated
  // single-value fields and joins the lines of list fields (server/http/request_framing.hpp).
  std::optional<std::string_view> header(std::string_view name) const;
  // The Content-Type's media type, lower-cased (type and subtype are case-insensitive, RFC 9110
  // §8.3.1), without its parameters and surrounding spaces; empty without a Content-Type.
  std::string media_type() const;
  std::optional<std::string_view> path_param(std::string_view name) const;
};

struct http_response {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<http_header> headers;

  http_response& with_header(std::string name, std::string value) {
    headers.push_back({std::move(name), std::move(value)});
    return *this;
  }
};

}  // namespace callsign::server
