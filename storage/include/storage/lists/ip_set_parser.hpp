// FireHOL .ipset / .netset text to an ip_set. Accepted per line, after trimming whitespace:
//   blank, "# comment" (also after an entry), "a.b.c.d", "a.b.c.d/len", "v6", "v6/len",
//   and raw proxy-list forms "a.b.c.d:port", "[v6]:port", "[v6]".
// Anything else rejects the whole file; the error names the first bad line's number and a
// short fixed description, never the line's content.
#pragma once

#include <cstddef>
#include <string_view>

#include "crypto/result.hpp"
#include "storage/lists/ip_set.hpp"

namespace callsign::storage {

// One entry (no comment, already trimmed); the error has no line number.
result<ip_prefix> parse_ip_set_entry(std::string_view entry);

// The whole file's text.
result<ip_set> parse_ip_set(std::string_view text);

}  // namespace callsign::storage
