// Line formats read by `callsign breach build` / `import-hibp` (docs/lists.md). Every error
// is a fixed description without the line's content: these lines hold passwords.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/result.hpp"

namespace callsign::storage {

// The line without its line ending ("\n", "\r\n"); nothing else is trimmed.
std::string_view strip_line_ending(std::string_view line) noexcept;

struct credential_pair {
  std::string_view username;
  std::string_view password;
};

// "user:password", split at the first colon (passwords may contain colons).
result<credential_pair> split_pair_line(std::string_view line);

// One CSV record on one line (RFC 4180 quoting: "a,b" and "" inside quotes). `fields` is
// cleared and refilled; the caller wipes it (it may hold passwords).
result<void> split_csv_line(std::string_view line, std::vector<std::string>& fields);

// "SHA1HEX:COUNT" (40 hex digits, either case; the count is checked to be decimal but not
// used) to the first 8 bytes of the SHA-1.
result<std::array<std::uint8_t, 8>> parse_hibp_line(std::string_view line);

}  // namespace callsign::storage
