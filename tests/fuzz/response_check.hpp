// Checks on what a handler sends back, shared by the request-decoding fuzz targets.
#pragma once

#include <simdjson.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz/fuzz_check.hpp"
#include "server/http/http_types.hpp"

namespace callsign::fuzz {

// True when `text` is one well-formed JSON document (simdjson also insists on valid UTF-8).
inline bool is_json(std::string_view text, simdjson::dom::element* root_out = nullptr) {
  static simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(text.data(), text.size(), true).get(root)) return false;
  if (root_out != nullptr) *root_out = root;
  return true;
}

// A 4xx answer is RFC 9457 problem+json with type, title, the same status and a detail.
inline void check_problem(const server::http_response& response) {
  FUZZ_CHECK(response.status >= 400 && response.status < 500);
  FUZZ_CHECK(response.content_type == "application/problem+json");
  simdjson::dom::element root;
  FUZZ_CHECK(is_json(response.body, &root));
  simdjson::dom::object object;
  FUZZ_CHECK(!root.get_object().get(object));
  std::string_view text;
  std::uint64_t status = 0;
  FUZZ_CHECK(!object["type"].get_string().get(text));
  FUZZ_CHECK(!object["title"].get_string().get(text) && !text.empty());
  FUZZ_CHECK(!object["detail"].get_string().get(text));
  FUZZ_CHECK(!object["status"].get_uint64().get(status) && status == response.status);
}

}  // namespace callsign::fuzz
