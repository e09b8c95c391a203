// Header rules a proxy or WAF in front of callsignd and callsignd itself must read the same way
// (RFC 9112): whatever another parser could frame or attribute differently is refused with 400,
// and the connection closes. Asio-free, so the rules are unit-tested without sockets.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "server/http/http_types.hpp"

namespace callsign::server {

struct header_view {
  std::string_view name;  // any case
  std::string_view value;
};

// The offset just past the blank line that ends a request header block ("\r\n\r\n"), or nullopt
// while it has not arrived.
std::optional<std::size_t> header_block_end(std::string_view bytes) noexcept;

// True when a header line of the raw block continues the previous one (obs-fold: CRLF then SP or
// HTAB). Parsers unfold it differently, or not at all.
bool has_obs_fold(std::string_view header_block) noexcept;

// Why this request header must be refused, or nullopt. `version` is 10 or 11.
// - Transfer-Encoding: only one field holding exactly "chunked", never with Content-Length and
//   never in HTTP/1.0 (RFC 9112 §6.1, §6.3). Any other coding would leave the body's length to
//   whoever guesses, which is how one request smuggles a second.
// - Host: exactly one in HTTP/1.1, at most one in HTTP/1.0 (RFC 9112 §3.2).
// - Authorization: at most one (a front-end may check one and callsignd use another).
// - Host: its value is host[:port] (RFC 3986 §3.2.2; RFC 9112 §3.2 asks a 400 otherwise).
// - Any other field at most once, unless it is a list (Accept, X-Forwarded-For, Cookie, …: see
//   list_fields in the .cpp), whose lines join_list_fields merges. Of two X-Real-IP or
//   Content-Type lines, a proxy may read one and callsignd the other.
// The detail names the rule and the field, never a header's value.
std::optional<std::string> request_header_problem(unsigned version, std::span<const header_view> fields,
                                                  bool obs_fold);

// Merges the repeated lines of a list field into its first line, in order, joined by ", " ("; "
// for Cookie), as RFC 9110 §5.3 reads them: "X-Forwarded-For: a" then "X-Forwarded-For: b" is
// "a, b", so the address a proxy appended last stays last. Names must be lower-case already (the
// session lower-cases them); after request_header_problem passed, every name is then unique.
void join_list_fields(std::vector<http_header>& headers);

}  // namespace callsign::server
