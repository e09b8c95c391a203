#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <set>

#include "ip_literal.hpp"
#include "rule_file_reader.hpp"
#include "text_functions.hpp"

namespace callsign::rules {
namespace {

// toml++ 3.3.0 (Debian 12) has three bugs that hostile text reaches, each an assertion or, under
// NDEBUG, undefined behaviour: a table header starting with a character no key can start with
// ("[&", "[[[a]]]"; marzer/tomlplusplus#294), and a non-ASCII character where it looks for
// whitespace (is_non_ascii_horizontal_whitespace reaches TOML_UNREACHABLE for U+00A1..U+0499 and more;
// found by tests/fuzz/rules_fuzz), and a '}' where an array wants a value ("[1, }": parse_value's
// assertion; rules_fuzz too). None is valid TOML, so all are refused before toml++
// sees the text. parse_config (server/src/config/config.cpp) guards the first one line by line;
// this scan also skips strings and comments, where "[^" may start a line of a multi-line
// expression and non-ASCII is allowed.
struct toml_hazard {
  int line = 0;
  int column = 0;
  const char* expected = "";
  std::string problem;
};

// is_non_ascii_horizontal_whitespace's unreachable ranges: toml++ calls it on characters it
// reads as part of a bare value, whatever our scan thinks is a string, so these characters are
// refused everywhere (a basic string can hold them as \uXXXX escapes).
bool toml_poison(std::uint32_t cp) {
  // Its child indices 0, 11 and 63 (bits clear in 0x7FFFFFFFFFFFF75E, no case in its switch).
  return (cp >= 0xA1 && cp <= 0x499) || (cp >= 0x2C5E && cp <= 0x3057 && cp != 0x3000) ||
         (cp >= 0xFB26 && cp <= 0xFEFE);
}

std::optional<std::uint32_t> code_point_at(std::string_view text, std::size_t i) {
  const auto b = [&](std::size_t k) { return static_cast<std::uint32_t>(static_cast<unsigned char>(text[k])); };
  const std::uint32_t lead = b(i);
  const std::size_t n = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
  if (n == 1 || i + n > text.size()) return std::nullopt;
  std::uint32_t cp = lead & (0x7FU >> n);
  for (std::size_t k = 1; k < n; ++k) cp = (cp << 6) | (b(i + k) & 0x3FU);
  return cp;
}

std::optional<toml_hazard> toml_hazard_in(std::string_view text) {
  const auto starts_key = [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
           c == '"' || c == '\'' || c == ']';
  };
  std::size_t line_begin = 0;
  const auto column_of = [&](std::size_t at) {
    int column = 1;
    for (std::size_t k = line_begin; k < at; ++k) column += (static_cast<unsigned char>(text[k]) & 0xC0U) != 0x80U;
    return column;
  };
  int line = 1;
  bool line_start = true;
  char last = '\0';  // the last character outside strings, comments and blanks
  std::size_t i = text.substr(0, 3) == "\xEF\xBB\xBF" ? 3 : 0;
  {
    int l = 1;
    for (std::size_t k = 0; k < text.size(); ++k) {
      if (text[k] == '\n') ++l, line_begin = k + 1;
      const auto cp = code_point_at(text, k);
      if (cp && toml_poison(*cp)) {
        char hex[16];
        std::snprintf(hex, sizeof hex, "\\u%04X", static_cast<unsigned>(*cp));
        return toml_hazard{l, column_of(k), "a character toml++ 3.3.0 reads safely",
                           cat({"toml++ 3.3.0 mishandles this character; in a basic string write it as ", hex})};
      }
    }
    line_begin = 0;
  }
  const auto skip_to = [&](std::string_view close, bool escapes) {  // past `close`, counting lines
    while (i < text.size() && text.substr(i, close.size()) != close) {
      if (text[i] == '\n') ++line, line_begin = i + 1;
      i += escapes && text[i] == '\\' && i + 1 < text.size() && text[i + 1] != '\n' ? 2U : 1U;
    }
    i += close.size();
  };
  while (i < text.size()) {
    const char c = text[i];
    if (c == '\n') {
      ++line;
      line_start = true;
      line_begin = ++i;
      continue;
    }
    if (static_cast<unsigned char>(c) >= 0x80) {
      return toml_hazard{line, column_of(i), "ASCII outside strings and comments",
                         "a character that is not ASCII stands outside a string or comment"};
    }
    if (c == ' ' || c == '\t') {
      ++i;
      continue;
    }
    if (line_start && c == '[') {
      std::size_t k = i + 1;
      if (k < text.size() && text[k] == '[') ++k;
      while (k < text.size() && (text[k] == ' ' || text[k] == '\t')) ++k;
      if (k < text.size() && !starts_key(text[k])) {
        return toml_hazard{line, column_of(i), "a table header starting with a key",
                           "a table header must start with a key"};
      }
    }
    line_start = false;
    if (c == '}' && (last == '[' || last == ',')) {
      return toml_hazard{line, column_of(i), "a value or ']'", "'}' stands where a value or ']' belongs"};
    }
    if (c != '#') last = c;
    if (c == '#') {
      while (i < text.size() && text[i] != '\n') ++i;
    } else if (text.substr(i, 3) == "\"\"\"" || text.substr(i, 3) == "'''") {
      const std::string_view close = text.substr(i, 3);
      i += 3;
      skip_to(close, close[0] == '"');
    } else if (c == '"' || c == '\'') {
      ++i;
      // A single-line string ends at its quote or, unterminated, at the line end (toml++'s error).
      while (i < text.size() && text[i] != c && text[i] != '\n') {
        i += c == '"' && text[i] == '\\' && i + 1 < text.size() && text[i + 1] != '\n' ? 2U : 1U;
      }
      if (i < text.size() && text[i] == c) ++i;
    } else {
      ++i;
    }
  }
  return std::nullopt;
}

bool valid_list_name(std::string_view name) {
  if (name.empty() || name.size() > 64 || name[0] < 'a' || name[0] > 'z') return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.'; });
}

int to_int(toml::source_index v) { return v > 1000000000U ? 0 : static_cast<int>(v); }

}  // namespace

file_position position_of(const toml::node& n) {
  return {to_int(n.source().begin.line), to_int(n.source().begin.column)};
}
file_position position_of(const toml::key& k) {
  return {to_int(k.source().begin.line), to_int(k.source().begin.column)};
}

rule_error make_rule_error(std::string rule, file_position at, std::string expected, std::string problem) {
  rule_error e;
  std::string where;
  if (!rule.empty()) where = "rule \"" + rule + "\"";
  if (at.line > 0) {
    where += where.empty() ? "line " : " at line ";
    where += std::to_string(at.line) + ", column " + std::to_string(at.column);
  }
  e.message = where.empty() ? problem : where + ": " + problem;
  e.rule = std::move(rule);
  e.line = at.line;
  e.column = at.column;
  e.expected = std::move(expected);
  return e;
}

bool read_lists_table(const toml::table& t, const list_resolver& resolve, rule_file& out, rule_error& why) {
  std::size_t entries = 0;
  for (auto&& [key, node] : t) {
    const std::string name(key.str());
    if (!valid_list_name(name)) {
      why = make_rule_error("", position_of(key), "a list name of a-z, 0-9, '_' and '.' starting with a letter",
                            "[lists] has a bad list name");
      return false;
    }
    if (out.lists.size() >= max_lists_per_file) {
      why = make_rule_error("", position_of(key), "at most 8 lists in [lists]", "[lists] has more than 8 lists");
      return false;
    }
    if (resolve && resolve(name) != nullptr) {
      why = make_rule_error("", position_of(key), "a name no managed list has",
                            "list " + name + " in [lists] is also a managed list; the name would be ambiguous");
      return false;
    }
    const toml::array* values = node.as_array();
    if (values == nullptr) {
      why = make_rule_error("", position_of(node), "an array of IP addresses or CIDRs",
                            "[lists] " + name + " must be an array of strings");
      return false;
    }
    std::vector<storage::ip_prefix> prefixes;
    for (const toml::node& v : *values) {
      const auto* s = v.as_string();
      std::string expected;
      const auto cidr = s != nullptr ? parse_ip_cidr(s->get(), expected) : std::nullopt;
      if (!cidr) {
        why = make_rule_error("", position_of(v), "an IP address or CIDR",
                              "[lists] " + name + " holds a value that is not an IP address or CIDR string");
        return false;
      }
      if (++entries > max_list_entries) {
        why = make_rule_error("", position_of(v), "at most 100000 entries over all [lists]",
                              "[lists] hold more than 100000 entries");
        return false;
      }
      prefixes.push_back(to_prefix(*cidr));
    }
    out.lists.emplace(name, std::make_shared<const storage::ip_set>(storage::ip_set::build(prefixes)));
  }
  return true;
}

bool read_rule_file(std::string_view text, const list_resolver& resolve, rule_file& out, rule_error& why) {
  if (text.size() > max_rule_file_bytes) {
    why = make_rule_error("", {}, "a rule file of at most 4 MiB", "the rule file is larger than 4 MiB");
    return false;
  }
  if (auto hazard = toml_hazard_in(text)) {
    why = make_rule_error("", {hazard->line, hazard->column}, hazard->expected, hazard->problem);
    return false;
  }
  auto parsed = toml::parse(text);
  if (!parsed) {
    const auto& err = parsed.error();
    why = make_rule_error("", {to_int(err.source().begin.line), to_int(err.source().begin.column)}, "valid TOML",
                          "not valid TOML: " + std::string(err.description()));
    return false;
  }
  const toml::table& root = parsed.table();
  for (auto&& [key, node] : root) {
    const std::string_view name = key.str();
    if (name == "lists") {
      if (!node.is_table()) {
        why = make_rule_error("", position_of(key), "a [lists] table", "lists must be a table");
        return false;
      }
      continue;
    }
    if (name != "rule" && name != "rate_limit") {
      why = make_rule_error("", position_of(key), "[[rule]], [[rate_limit]] or [lists]",
                            cat({"unknown key '", name.substr(0, 64), "' in the rule file"}));
      return false;
    }
    const toml::array* tables = node.as_array();
    if (tables == nullptr || !tables->is_array_of_tables()) {
      why = make_rule_error("", position_of(key), cat({"[[", name, "]] tables"}),
                            std::string(name) + " must be an array of tables, written [[" + std::string(name) + "]]");
      return false;
    }
  }
  if (const auto* lists = root.get_as<toml::table>("lists")) {
    if (!read_lists_table(*lists, resolve, out, why)) return false;
  }
  std::size_t count = 0;
  for (std::string_view kind : {"rule", "rate_limit"}) {
    const auto* tables = root.get_as<toml::array>(kind);
    if (tables == nullptr) continue;
    std::size_t number = 0;
    for (const toml::node& n : *tables) {
      ++number;
      if (++count > max_rules_per_file) {
        why = make_rule_error("", position_of(n), "at most 1000 rules and rate limits in a file",
                              "the file has more than 1000 rules and rate limits");
        return false;
      }
      const bool ok = kind == "rule" ? read_rule_table(*n.as_table(), number, out, why)
                                     : read_rate_limit_table(*n.as_table(), number, out, why);
      if (!ok) return false;
    }
  }
  std::set<std::string_view> ids;
  for (const auto& r : out.rules) {
    if (!ids.insert(r.id).second) {
      why = make_rule_error(r.id, {r.line, 1}, "an id no other rule has", "the id " + r.id + " is used twice");
      return false;
    }
  }
  for (const auto& r : out.rate_limits) {
    if (!ids.insert(r.id).second) {
      why = make_rule_error(r.id, {r.line, 1}, "an id no other rule has", "the id " + r.id + " is used twice");
      return false;
    }
  }
  return true;
}

}  // namespace callsign::rules
