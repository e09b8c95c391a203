// A Redis reply as a plain value, copied out of hiredis's redisReader (RESP2). Asio-free, so
// storage-level code and tests can build and read replies without a connection.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace callsign::redis {

struct reply {
  enum class kind { nil, integer, string, status, error, array };

  kind type = kind::nil;
  std::int64_t integer = 0;    // kind::integer
  std::string text;            // kind::string (bulk), kind::status, kind::error
  std::vector<reply> elements;  // kind::array

  bool is_error() const noexcept { return type == kind::error; }
  bool is_nil() const noexcept { return type == kind::nil; }
  // "+OK" and the like.
  bool is_status(std::string_view status) const noexcept { return type == kind::status && text == status; }
};

// One command: its arguments, sent as a RESP array of bulk strings (binary-safe).
using command = std::vector<std::string>;

}  // namespace callsign::redis
