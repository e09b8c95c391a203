// Keys for shared state (rate counters, replay marks, later blocks) built from parts such as
// ("verify", "user", id). Each part is escaped and the parts are joined with '/', so no two
// tuples of parts give the same key whatever bytes an id holds, and keys stay printable ASCII
// for logs, admin listings and URLs.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/result.hpp"

namespace callsign::storage {

// Bytes other than ALPHA DIGIT and "-._~:@!$&'()*+,;=" (the RFC 3986 path-segment set minus
// '%' and '/') become %XX with upper-case hex. Example: {"verify", "ip", "10.0.0.1"} gives
// "verify/ip/10.0.0.1"; {"login", "ip6", "2001:db8::/64"} gives "login/ip6/2001:db8::%2F64".
std::string state_key(std::initializer_list<std::string_view> parts);
std::string state_key(const std::vector<std::string_view>& parts);

// The inverse of state_key: the original parts, or invalid_input for a string state_key
// cannot produce (a bad escape, a byte that should have been escaped, lower-case hex).
result<std::vector<std::string>> split_state_key(std::string_view key);

}  // namespace callsign::storage
