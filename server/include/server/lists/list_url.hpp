// An HTTP(S) list source (`[lists.<name>] url`, docs/lists.md): parsed once, at start-up. The
// userinfo (user:password@) becomes a Basic Authorization header and is never shown: errors,
// logs and GET /v1/admin/lists use redacted(), which drops it and the query as well (a query
// often carries an access token).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "crypto/result.hpp"

namespace callsign::server {

struct list_url {
  bool https = true;
  std::string host;         // a DNS name or an IP literal, without brackets; lower case
  std::uint16_t port = 0;   // the explicit port, or 443 / 80
  std::string target;       // the request target: path and query, "/" when the URL has no path
  std::string user;         // percent-decoded userinfo; empty when the URL has none
  std::string password;
  bool host_is_ip = false;  // IPv4 or IPv6 literal: checked against IP SANs, and no SNI

  // scheme://host[:port]/path, without userinfo, query or fragment.
  std::string redacted() const;
  // The Host header: host, [v6], plus :port when it is not the scheme's default.
  std::string host_header() const;
  // "Basic <base64(user:password)>", or empty without userinfo.
  std::string basic_authorization() const;
};

// Accepts http:// and https:// URLs with a host, an optional port (1-65535), userinfo, path and
// query; drops a fragment. Errors say what is wrong without quoting the URL (it may hold a
// password).
result<list_url> parse_list_url(std::string_view text);

}  // namespace callsign::server
