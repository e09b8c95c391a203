// RFC 3986 percent-encoding for otpauth URIs. Private to callsign_crypto.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "crypto/result.hpp"

namespace callsign::crypto::detail {

// Keeps unreserved characters (ALPHA DIGIT - . _ ~); everything else becomes %XX (upper case).
std::string percent_encode(std::string_view text);

// Decodes %XX (either case); '+' stays '+' as RFC 3986 says. `offset` is where `text`
// starts in the whole URI, so errors can name a position there without echoing the input.
result<std::string> percent_decode(std::string_view text, std::size_t offset);

}  // namespace callsign::crypto::detail
