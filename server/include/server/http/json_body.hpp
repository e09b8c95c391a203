// Reads a JSON object request body with simdjson and precise 400 messages
// ("field 'code' must be a string"). Values are copied out; the parse buffer is wiped.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "crypto/result.hpp"
#include "server/http/http_types.hpp"

namespace callsign::server {

// Not thread-safe; one per request.
class json_body {
 public:
  // Requires Content-Type application/json (error_kind::unsupported_media_type otherwise),
  // a well-formed body and a top-level object (error_kind::invalid_input otherwise).
  static result<json_body> parse(const http_request& request);

  json_body(json_body&&) noexcept;
  json_body& operator=(json_body&&) noexcept;
  ~json_body();

  // Fails on any member not in `known`.
  result<void> only(std::initializer_list<std::string_view> known) const;

  result<std::optional<std::string>> optional_string(std::string_view name, std::size_t max_bytes) const;
  result<std::string> required_string(std::string_view name, std::size_t max_bytes) const;
  result<std::optional<bool>> optional_bool(std::string_view name) const;
  result<bool> required_bool(std::string_view name) const;

  struct state;

 private:
  explicit json_body(std::unique_ptr<state> s);
  std::unique_ptr<state> state_;
};

// True when the request declares a JSON body (application/json, any parameters).
bool is_json_content_type(const http_request& request);

}  // namespace callsign::server
