// The rules of fetching a list from its URL (docs/lists.md, "URL sources"), as plain functions
// the Beast client (server/src/net/list_download.cpp) and the registry apply: the conditional
// request's validators, the byte budget counted while the body streams, how a status answers,
// and the expected SHA-256.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "crypto/result.hpp"

namespace callsign::server {

// The ETag and Last-Modified of the copy that serves; sent back as If-None-Match and
// If-Modified-Since. Empty: not known (never fetched since start-up, or the server sent none).
struct list_validators {
  std::string etag;
  std::string last_modified;
  bool operator==(const list_validators&) const = default;
};

// The header lines of a conditional GET for `known` (none for an empty validator).
std::vector<std::pair<std::string, std::string>> conditional_headers(const list_validators& known);

// A response's validators as they may be kept and sent back: each one only when it is 1-256
// printable ASCII characters (no CR/LF to smuggle into our next request), else empty.
list_validators validators_from(std::string_view etag, std::string_view last_modified);

// What a response's status line means for the download: a body to store (200), the serving
// copy is current (304), or an error naming the status. Redirects are refused, not followed: a
// list source is configured with its final URL, and following one would send the userinfo and
// trust decisions to a host nobody configured. A body with a Content-Encoding other than
// identity is refused too (we never ask for one).
enum class list_response { body, not_modified };
result<list_response> judge_list_response(unsigned status, std::string_view content_encoding);

// Bytes of one download against its limit, counted as they arrive: a declared Content-Length
// over the limit is refused before the body is read, and a body that passes it is refused at
// the chunk that does, so at most limit bytes are ever stored.
class download_budget {
 public:
  explicit download_budget(std::uint64_t limit) noexcept : limit_(limit) {}
  result<void> admit_declared(std::optional<std::uint64_t> content_length) const;
  // Counts `bytes` more; an error (nothing counted) when the total would pass the limit.
  result<void> take(std::uint64_t bytes);
  std::uint64_t received() const noexcept { return received_; }
  std::uint64_t limit() const noexcept { return limit_; }

 private:
  std::uint64_t limit_;
  std::uint64_t received_ = 0;
};

// `[lists.<name>] sha256`: exactly 64 hex digits, either case; returned lower case.
result<std::string> parse_expected_sha256(std::string_view text);
// The download's SHA-256 (hex) against the expected one (lower-case hex); an error when they
// differ, naming only the digest that arrived.
result<void> check_expected_sha256(std::string_view expected, std::string_view actual);

}  // namespace callsign::server
