// Reads application/x-www-form-urlencoded query parameters ("a=1&b=x%40y").
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "crypto/result.hpp"

namespace callsign::server {

// Names and values are percent- and '+'-decoded before use, so "us%65r=x" is the parameter
// "user". Malformed escapes, in a name or the value, are an invalid_input error.

// The value of `name`; nullopt when absent. A name given twice (in any spelling) is an
// invalid_input error, so a proxy in front and callsignd cannot read different copies.
result<std::optional<std::string>> query_param(std::string_view query, std::string_view name);

// An optional unsigned integer parameter within [lo, hi].
result<std::optional<std::uint64_t>> query_uint(std::string_view query, std::string_view name, std::uint64_t lo,
                                                std::uint64_t hi);

// Fails on any parameter not listed.
result<void> query_only(std::string_view query, std::initializer_list<std::string_view> known);

// What the router checks before any handler runs: every name is one the route declares, none
// appears twice (in any spelling), and no name is badly encoded. Values are left to the handler.
result<void> query_names_declared(std::string_view query, std::span<const std::string> declared);

}  // namespace callsign::server
