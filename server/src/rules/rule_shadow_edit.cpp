#include "server/rules/rule_shadow_edit.hpp"

#include <vector>

namespace callsign::server {

namespace {

std::string_view trim_left(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  return s;
}

bool is_shadow_key(std::string_view line) {
  auto rest = trim_left(line);
  if (!rest.starts_with("shadow")) return false;
  rest = trim_left(rest.substr(6));
  return rest.starts_with('=');
}

}  // namespace

result<std::string> set_shadow_in_text(std::string_view text, int table_line, bool on) {
  std::vector<std::string_view> lines;
  for (std::string_view rest = text;;) {
    const auto end = rest.find('\n');
    lines.push_back(rest.substr(0, end));
    if (end == std::string_view::npos) break;
    rest.remove_prefix(end + 1);
  }
  if (table_line < 1 || static_cast<std::size_t>(table_line) > lines.size() ||
      !trim_left(lines[static_cast<std::size_t>(table_line) - 1]).starts_with("[[")) {
    return make_error(error_kind::invalid_input, "the rule's table header is not where it was compiled from");
  }
  const std::size_t header = static_cast<std::size_t>(table_line) - 1;
  const std::string value = std::string("shadow = ") + (on ? "true" : "false");
  std::size_t replace_at = lines.size();
  for (std::size_t i = header + 1; i < lines.size(); ++i) {
    if (trim_left(lines[i]).starts_with('[')) break;  // the next table
    if (is_shadow_key(lines[i])) {
      replace_at = i;
      break;
    }
  }
  std::string out;
  out.reserve(text.size() + value.size() + 1);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (i == replace_at) {
      const auto line = lines[i];
      out += line.substr(0, line.size() - trim_left(line).size());  // keep the indentation
      out += value;
    } else {
      out += lines[i];
    }
    if (i + 1 < lines.size()) out += '\n';
    if (i == header && replace_at == lines.size()) {
      if (i + 1 == lines.size()) out += '\n';
      out += value;
      if (i + 1 < lines.size()) out += '\n';
    }
  }
  return out;
}

}  // namespace callsign::server
