// The socket-free half of GET /v1/stream: the Origin check, the auth message and the token
// message. The net layer (server/src/net/stream_session.cpp) calls these. See docs/stream.md.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/result.hpp"
#include "server/app_context.hpp"
#include "server/stream/stream_fanout.hpp"

namespace callsign::server {

// No Origin header (not a browser) is allowed; otherwise it must be listed exactly in
// [stream] allowed_origins.
bool stream_origin_allowed(const stream_config& config, std::optional<std::string_view> origin);
// The same, and also the pages callsignd serves itself: an Origin of exactly "http://" or
// "https://" followed by the request's Host header (same origin) is allowed.
bool stream_origin_allowed(const stream_config& config, std::optional<std::string_view> origin,
                           std::optional<std::string_view> host);

// {"type":"token", "token", "step", "expires_at", "period"} for `user` at unix time `now`.
struct stream_token {
  std::uint64_t step = 0;
  std::string message;
};
stream_token stream_token_at(const app_context& app, std::string_view user, std::int64_t now);

// What a stream's auth message established: whose stream it is, and until when.
struct stream_grant {
  std::string user;
  std::int64_t valid_until = 0;  // the token's exp + auth.leeway_seconds (unix seconds)
};

// Checks the first client message {"type":"auth","token":"<JWT>"}: a valid customer token of a
// registered user with phone support. May read storage (run it off the I/O threads). Error
// messages never contain the token.
result<stream_grant> authenticate_stream(const app_context& app, std::string_view first_message);

// The auth's user rules, read again (a storage read: off the I/O threads).
stream_access stream_user_access(const app_context& app, std::string_view user);

// The table for the boundary at unix second `boundary`: each user's token for the step that
// starts there if the user still has access, else the refusal (no token). On the worker pool.
std::shared_ptr<const stream_token_table> build_stream_token_table(const app_context& app,
                                                                   std::vector<std::string> users,
                                                                   std::int64_t boundary);

}  // namespace callsign::server
