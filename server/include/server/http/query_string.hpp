// Reads application/x-www-form-urlencoded query parameters ("a=1&b=x%40y").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "crypto/result.hpp"

namespace callsign::server {

// The first value of `name`, percent- and '+'-decoded; nullopt when absent. Malformed
// percent escapes are an invalid_input error naming the parameter.
result<std::optional<std::string>> query_param(std::string_view query, std::string_view name);

// An optional unsigned integer parameter within [lo, hi].
result<std::optional<std::uint64_t>> query_uint(std::string_view query, std::string_view name, std::uint64_t lo,
                                                std::uint64_t hi);

// Fails on any parameter not listed.
result<void> query_only(std::string_view query, std::initializer_list<std::string_view> known);

}  // namespace callsign::server
