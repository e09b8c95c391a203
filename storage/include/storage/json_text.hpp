// JSON string escaping, written once for the tree: storage's own records (audit entries and
// checkpoints) and the server's json_writer (every response, problem and log line) use it. The
// output is canonical: one escaping for each string, so equal values give equal bytes, which the
// audit chain's hashes rely on (docs/audit.md).
#pragma once

#include <string>
#include <string_view>

namespace callsign::storage {

// Appends `text` as a quoted JSON string. Escapes '"', '\\' and control characters
// (\b \f \n \r \t, others as \u00XX); passes valid UTF-8 through and replaces each byte of an
// invalid sequence with U+FFFD, so the output is always valid JSON.
void append_json_string(std::string& out, std::string_view text);

}  // namespace callsign::storage
