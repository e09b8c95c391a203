// QR codes as standalone SVG text, so enrollment responses carry the picture inline and the
// web pages need no image endpoint or client-side QR library.
#pragma once

#include <string>
#include <string_view>

#include "crypto/result.hpp"

namespace callsign::server {

// Encodes `text` byte for byte (8-bit mode, error correction level M, the smallest version
// that fits) and draws it as one <path> of dark modules on a white square with the 4-module
// quiet zone, in a viewBox of (modules + 8) units with shape-rendering="crispEdges", so it
// scales to any size without blurring. Errors: empty text, or more than fits in version 40
// (2331 bytes) -> error_kind::invalid_input. The text may be a secret (an otpauth URI):
// errors never echo it. Thread-safe: libqrencode is built with pthread on Debian.
result<std::string> qr_svg(std::string_view text);

}  // namespace callsign::server
