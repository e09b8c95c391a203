// When a subscribed stream's token stops being valid, on the injected clock and on the deadline
// wheel's (server/timing/deadline_wheel.hpp). See docs/stream.md.
#pragma once

#include <cstdint>
#include <string_view>

namespace callsign::server {

// A subscribed stream's token stops being valid at `valid_until` (unix seconds: its exp plus
// auth.leeway_seconds, as token_verifier refuses it from then on); the stream is then closed
// 1008 with this error, and sent nothing more. See docs/stream.md.
inline constexpr std::string_view stream_expired_error = "token expired";
// True from valid_until on, `unix_now_ms` being the injected clock's time.
bool stream_token_expired(std::int64_t valid_until, std::int64_t unix_now_ms) noexcept;
// That moment on the sweep's (monotonic) clock, as seen at steady_now_ms / unix_now_ms; never
// earlier than steady_now_ms. When the wall clock moves, the owner re-checks with
// stream_token_expired when this is due, and asks again if it is not expired yet.
std::int64_t stream_expiry_due_ms(std::int64_t valid_until, std::int64_t unix_now_ms,
                                  std::int64_t steady_now_ms) noexcept;

}  // namespace callsign::server
