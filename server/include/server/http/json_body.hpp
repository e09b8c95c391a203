// Reads a JSON object request body with simdjson and precise 400 messages
// ("field 'code' must be a string"). Values are copied out; the parse buffer is wiped.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

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
  // An integer within [lo, hi]; nullopt when absent or null.
  result<std::optional<std::int64_t>> optional_integer(std::string_view name, std::int64_t lo, std::int64_t hi) const;
  // A nested object, read by its own json_body (same rules: no repeated members).
  result<std::optional<json_body>> optional_object(std::string_view name) const;
  // An object of string values ({"name": "value", ...}): at most max_members, each key and value
  // within the limits and free of NUL; nullopt when absent or null. Keys that are equal
  // ignoring ASCII case are refused when `fold_case` (header names).
  result<std::optional<std::vector<std::pair<std::string, std::string>>>> optional_string_map(
      std::string_view name, std::size_t max_members, std::size_t max_key_bytes, std::size_t max_value_bytes,
      bool fold_case) const;

  struct state;

 private:
  explicit json_body(std::unique_ptr<state> s);
  static result<json_body> parse_text(std::string_view text);
  std::unique_ptr<state> state_;
};

// True when the request declares a JSON body (application/json, any parameters).
bool is_json_content_type(const http_request& request);

}  // namespace callsign::server
