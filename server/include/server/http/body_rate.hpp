// The rate floor of a streamed request body, free of Asio and of any route: the session layer
// (server/src/net/streamed_body.hpp) checks it after each read, with the floor the route declared
// (stream_steps::min_bytes_per_second; the list upload's is lists.upload_min_bytes_per_second).
#pragma once

#include <chrono>
#include <cstdint>

namespace callsign::server {

// The moment a body that began at `start` and has `received` bytes so far falls below
// `min_bytes_per_second` averaged since `start`, after a first `grace` (the request timeout):
// start + grace + received / rate. time_point::max() when the floor is off (0) or the sum would
// overflow. A trickle of a byte now and then keeps every single read inside the request
// timeout; this bounds the whole body instead.
inline std::chrono::steady_clock::time_point body_rate_deadline(std::chrono::steady_clock::time_point start,
                                                                std::chrono::steady_clock::duration grace,
                                                                std::uint64_t received,
                                                                std::uint64_t min_bytes_per_second) noexcept {
  using clock = std::chrono::steady_clock;
  if (min_bytes_per_second == 0) return clock::time_point::max();
  // Whole seconds and the remainder apart: received * 1e9 would overflow for large bodies.
  const auto seconds = std::chrono::seconds(received / min_bytes_per_second);
  const auto rest = std::chrono::nanoseconds((received % min_bytes_per_second) * 1'000'000'000ULL / min_bytes_per_second);
  const auto allowed = std::chrono::duration_cast<clock::duration>(seconds + rest);
  if (clock::time_point::max() - start - grace < allowed) return clock::time_point::max();
  return start + grace + allowed;
}

}  // namespace callsign::server
