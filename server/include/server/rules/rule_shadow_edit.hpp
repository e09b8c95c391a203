// POST /v1/admin/rules/{id}/shadow edits the rule file's text, so the file stays what admins
// wrote (comments and order kept) and a restart loads the same rules. Plain text work; the
// route compiles the result and checks that only that rule's shadow flag changed.
#pragma once

#include <string>
#include <string_view>

#include "crypto/result.hpp"

namespace callsign::server {

// The text with `shadow = <on>` set in the table that starts on line `table_line` (1-based, the
// [[rule]] header): an existing `shadow =` line of that table is replaced, otherwise one is
// added right after the header. invalid_input when the line is not a table header.
result<std::string> set_shadow_in_text(std::string_view text, int table_line, bool on);

}  // namespace callsign::server
