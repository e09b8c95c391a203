// Splits list text into numbered lines with comments and surrounding whitespace removed.
#pragma once

#include <cstddef>
#include <string_view>

namespace callsign::storage {

inline bool is_list_space(char c) noexcept {
  return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

inline std::string_view trim_list_space(std::string_view s) noexcept {
  while (!s.empty() && is_list_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_list_space(s.back())) s.remove_suffix(1);
  return s;
}

// Not thread-safe; a view over text the caller keeps alive.
class list_line_reader {
 public:
  explicit list_line_reader(std::string_view text) noexcept : rest_(text) {}

  // The next non-empty entry (text before '#', trimmed) and its 1-based line number.
  bool next(std::string_view& entry, std::size_t& line_number) noexcept {
    while (!rest_.empty()) {
      const auto end = rest_.find('\n');
      std::string_view line = rest_.substr(0, end);
      rest_ = end == std::string_view::npos ? std::string_view() : rest_.substr(end + 1);
      ++line_;
      if (const auto hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
      line = trim_list_space(line);
      if (!line.empty()) {
        entry = line;
        line_number = line_;
        return true;
      }
    }
    return false;
  }

 private:
  std::string_view rest_;
  std::size_t line_ = 0;
};

}  // namespace callsign::storage
