// Positions for error messages: an offset inside an expression becomes a line and column of
// the rule FILE, walking the TOML string literal the expression was written as (basic,
// literal, multi-line; escapes take the column where they start). Columns count code points,
// as toml++ does; both are 1-based.
#pragma once

#include <cstddef>
#include <string_view>

namespace callsign::rules {

struct file_position {
  int line = 0;
  int column = 0;
};

// `start` is where toml++ says the string value begins (its opening quote); `decoded` the
// value toml++ read. When the raw text does not decode to `decoded` (should not happen), the
// answer is `start`.
file_position position_in_string(std::string_view file, file_position start, std::string_view decoded,
                                 std::size_t offset);
// Line and column of `offset` in plain text (an expression compiled alone).
file_position position_in_text(std::string_view text, std::size_t offset);

}  // namespace callsign::rules
