// RFC 3986 percent-encoding: the tree's one encoder and strict decoder (otpauth URIs, query
// strings, the router's path segments, state keys).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "crypto/result.hpp"

namespace callsign::crypto {

// RFC 3986 unreserved: ALPHA DIGIT - . _ ~
constexpr bool is_unreserved(char c) noexcept {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
         c == '_' || c == '~';
}

// Appends `text` with unreserved characters and those in `also_kept` as they are, and every
// other byte as %XX (upper case, so each byte has one spelling).
void percent_encode_append(std::string& out, std::string_view text, std::string_view also_kept = {});
std::string percent_encode(std::string_view text, std::string_view also_kept = {});

// What '+' means: itself (RFC 3986: paths, otpauth URIs) or a space (HTML form encoding, which
// query strings use).
enum class plus_sign { literal, space };

// Strict: every '%' must begin "%XX" with two hex digits, either case. A bad escape is an
// invalid_input error "bad percent escape at position N": N is 1-based in `text`, plus
// `position_base` when `text` is a piece of a longer string. The error never quotes the text.
result<std::string> percent_decode(std::string_view text, plus_sign plus = plus_sign::literal,
                                   std::size_t position_base = 0);

}  // namespace callsign::crypto
