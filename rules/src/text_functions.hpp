// Byte-string helpers of the language: ASCII-only, like wirefilter's lower().
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>

namespace callsign::rules {

std::string ascii_lower(std::string_view s);
// Into a reused buffer: no allocation once `out` has grown to the longest value seen.
void ascii_lower_into(std::string& out, std::string_view s);
bool equals_ignore_ascii_case(std::string_view a, std::string_view b) noexcept;
// Joins parts by appending: `"[[" + std::string(x)` trips GCC 12's -Wrestrict false positive
// at -O3 (libstdc++'s operator+(const char*, string&&)), which -Werror turns into a failure.
std::string cat(std::initializer_list<std::string_view> parts);

}  // namespace callsign::rules
