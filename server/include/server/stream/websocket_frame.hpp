// RFC 6455 framing for GET /v1/stream, without sockets: server frame headers and an incremental
// reader of client frames. The stream session (server/src/net/stream_session.cpp) feeds the
// reader whatever bytes arrive and writes shared payloads behind a header it encodes per write;
// Beast performs the HTTP upgrade handshake. Keeping framing here keeps a connection's state at
// a few hundred bytes (docs/stream.md, "Memory"). No extensions (permessage-deflate) are offered.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace callsign::server {

enum class ws_opcode : std::uint8_t { continuation = 0, text = 1, binary = 2, close = 8, ping = 9, pong = 10 };

// Close codes the stream sends.
namespace ws_close {
inline constexpr std::uint16_t normal = 1000;
inline constexpr std::uint16_t no_status = 1005;  // received close without a code; never sent
inline constexpr std::uint16_t protocol_error = 1002;
inline constexpr std::uint16_t unsupported_data = 1003;
inline constexpr std::uint16_t policy_violation = 1008;
inline constexpr std::uint16_t too_big = 1009;
inline constexpr std::uint16_t service_restart = 1012;
inline constexpr std::uint16_t try_again_later = 1013;
}  // namespace ws_close

// A server-to-client frame header (FIN set, unmasked) for `size` payload bytes, written to the
// front of `out`; returns its length: 2, 4 or 10 bytes.
std::size_t ws_frame_header(ws_opcode opcode, std::size_t size, std::array<std::uint8_t, 10>& out);

// A whole close frame with `code` (omitted when no_status) and nothing else.
std::string ws_close_frame(std::uint16_t code);

// A whole frame: header + payload (for control frames and error messages, which are rare).
std::string ws_frame(ws_opcode opcode, std::string_view payload);

struct ws_event {
  enum class kind : std::uint8_t { none, message, ping, pong, close, error };
  kind what = kind::none;
  std::string payload;     // the message (when kept), a ping's payload
  std::uint16_t code = 0;  // close: the peer's code (no_status if none); error: the close code to send
  bool binary = false;     // message: it came as binary frames, not text
};

// Client frames, fed in pieces of any size. Checks what RFC 6455 requires of a server: masking,
// no reserved bits (no extensions were negotiated), known opcodes, unfragmented control frames of
// at most 125 bytes, continuation order, and `max_message` bytes per data message (1009). Text is
// not checked for UTF-8 here; the one message the stream reads (auth) goes through a JSON parser
// that rejects invalid UTF-8. After an error event the reader consumes nothing more.
class ws_reader {
 public:
  explicit ws_reader(std::size_t max_message) : max_message_(max_message) {}

  // Whether data messages are collected into the event (true until the auth message arrived);
  // otherwise they are checked and skipped without being stored.
  void keep_messages(bool keep) noexcept { keep_ = keep; }

  // Consumes bytes of `in` up to the end of the next event and returns how many. `out.what` is
  // none when `in` ran out before an event completed.
  std::size_t feed(std::span<const std::uint8_t> in, ws_event& out);

 private:
  bool parse_header(ws_event& out);  // head_ is complete; false on a protocol error (out set)
  void finish_frame(ws_event& out);

  std::size_t max_message_;
  std::string message_;   // the data message being collected (only when keep_)
  std::string control_;   // the control frame being collected
  std::uint64_t remaining_ = 0;  // payload bytes of the current frame still to come
  std::size_t message_size_ = 0;  // data bytes so far in the current message
  std::array<std::uint8_t, 14> head_{};
  std::array<std::uint8_t, 4> mask_{};
  std::uint8_t head_len_ = 0;
  std::uint8_t mask_pos_ = 0;
  ws_opcode opcode_ = ws_opcode::continuation;
  ws_opcode message_opcode_ = ws_opcode::text;  // the first frame's opcode of the current message
  bool fin_ = false;
  bool in_payload_ = false;
  bool in_message_ = false;  // a fragmented data message is open
  bool keep_ = true;
  bool failed_ = false;
};

}  // namespace callsign::server
