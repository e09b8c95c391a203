// The request a login rule sees (docs/rules.md, "Where rules act"), gathered from what the
// front-end sends: POST /v1/login/check's optional members, or the headers nginx forwards to
// GET /v1/login/gate. Plain functions, so every mapping is unit-tested without sockets.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "crypto/result.hpp"
#include "rules/request_fields.hpp"
#include "server/http/http_types.hpp"
#include "server/http/json_body.hpp"

namespace callsign::server {

inline constexpr std::size_t max_rule_headers = 64;
inline constexpr std::size_t max_rule_header_value = 4096;

// The HTTP side of one login attempt, owning its bytes. Header names are lower-case; a name
// that repeats holds its values joined with ", ".
struct rule_request {
  std::string path;
  std::string method;
  std::string host;
  std::string user_agent;
  std::vector<std::pair<std::string, std::string>> headers;
  std::optional<std::int64_t> bot_score;
};

// bot.score from a header value: an integer 1..99 (Cloudflare's range); nullopt otherwise.
std::optional<std::int64_t> parse_bot_score(std::string_view text) noexcept;

// POST /v1/login/check's members path, method, host, user_agent, headers ({name: value}) and
// bot_score (1..99), all optional. invalid_input names the member.
result<rule_request> decode_rule_request(const json_body& body);
// The member names decode_rule_request reads (for json_body::only).
inline constexpr std::string_view rule_request_members[] = {"path", "method", "host", "user_agent", "headers",
                                                            "bot_score"};

// GET /v1/login/gate: path from X-Original-URI (its query cut off), method from
// X-Original-Method, host from Host, user agent from User-Agent, every header, and bot.score
// from `bot_score_header`. A header missing gives "" (docs/login-gate.md shows the nginx lines).
rule_request gate_rule_request(const http_request& request, std::string_view bot_score_header);

// The view a rule set evaluates; the views point into `request`, which must outlive it. The
// login and rate members are left for the caller.
rules::request_fields rule_fields_of(const rule_request& request);

}  // namespace callsign::server
