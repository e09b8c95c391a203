#include "server/stream/stream_token_expiry.hpp"

#include <cstdint>

#include "server/timing/deadline_wheel.hpp"

namespace callsign::server {

namespace {
// valid_until in milliseconds, saturating (a token's exp may be anything up to the year 292e9).
std::int64_t expiry_ms(std::int64_t valid_until) noexcept {
  constexpr std::int64_t limit = INT64_MAX / 1000;
  return valid_until >= limit ? INT64_MAX : valid_until <= -limit ? -INT64_MAX : valid_until * 1000;
}
}  // namespace

bool stream_token_expired(std::int64_t valid_until, std::int64_t unix_now_ms) noexcept {
  return unix_now_ms >= expiry_ms(valid_until);
}

std::int64_t stream_expiry_due_ms(std::int64_t valid_until, std::int64_t unix_now_ms,
                                  std::int64_t steady_now_ms) noexcept {
  const std::int64_t at = expiry_ms(valid_until);
  if (at == INT64_MAX) {
    return deadline_entry::never;
  }
  if (unix_now_ms >= at) {
    return steady_now_ms;
  }
  std::int64_t left = 0;
  std::int64_t due = 0;
  if (__builtin_sub_overflow(at, unix_now_ms, &left) || __builtin_add_overflow(steady_now_ms, left, &due)) {
    return deadline_entry::never;  // further away than the clocks can count
  }
  return due;
}

}  // namespace callsign::server
