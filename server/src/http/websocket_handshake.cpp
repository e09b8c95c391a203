#include "server/http/websocket_handshake.hpp"

#include <string_view>

#include "server/http/problem.hpp"

namespace callsign::server {
namespace {

bool is_base64_char(char c) noexcept {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
}

// 16 bytes in base64 are exactly 24 characters: 21 free ones, a 22nd that carries only 2 bits
// (its low 4 bits zero: A, Q, g or w), then "==".
bool is_sixteen_bytes_base64(std::string_view key) noexcept {
  if (key.size() != 24 || key[22] != '=' || key[23] != '=') return false;
  for (std::size_t i = 0; i < 21; ++i) {
    if (!is_base64_char(key[i])) return false;
  }
  return std::string_view("AQgw").find(key[21]) != std::string_view::npos;
}

}  // namespace

std::optional<http_response> websocket_handshake_problem(const http_request& request) {
  const auto version = request.header("sec-websocket-version");
  if (!version || *version != "13") {
    auto response = problem_response(426, "Upgrade Required", "this server speaks WebSocket version 13 only");
    response.with_header("Sec-WebSocket-Version", "13");
    response.with_header("Upgrade", "websocket");  // a 426 names the protocol to upgrade to (RFC 9110 §15.5.22)
    return response;
  }
  const auto key = request.header("sec-websocket-key");
  if (!key || !is_sixteen_bytes_base64(*key)) {
    return problem_response(400, "Bad Request", "Sec-WebSocket-Key must be 16 random bytes in base64");
  }
  return std::nullopt;
}

}  // namespace callsign::server
