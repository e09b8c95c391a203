#include <algorithm>
#include <optional>
#include <set>

#include "ip_literal.hpp"
#include "rule_file_reader.hpp"
#include "text_functions.hpp"

namespace callsign::rules {
namespace {

// toml++ 3.3.0 (Debian 12) breaks an internal precondition on a table header starting with a
// character no key can start with ("[&", "[[[a]]]"): an assertion, or undefined behaviour
// under NDEBUG (marzer/tomlplusplus#294). Never valid TOML, so refused first; the same guard
// as parse_config's (server/src/config/config.cpp).
std::optional<int> bad_table_header_line(std::string_view text) {
  int line = 1;
  const std::size_t first = text.substr(0, 3) == "\xEF\xBB\xBF" ? 3 : 0;
  for (std::size_t start = first; start < text.size(); ++line) {
    const std::size_t end = std::min(text.find('\n', start), text.size());
    std::size_t i = start;
    const auto skip = [&] {
      while (i < end && (text[i] == ' ' || text[i] == '\t')) ++i;
    };
    skip();
    if (i < end && text[i] == '[') {
      ++i;
      if (i < end && text[i] == '[') ++i;
      skip();
      if (i < text.size()) {
        const char c = text[i];
        const bool starts_key = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                                c == '_' || c == '-' || c == '"' || c == '\'' || c == ']';
        if (!starts_key) return line;
      }
    }
    start = end + 1;
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
  if (auto line = bad_table_header_line(text)) {
    why = make_rule_error("", {*line, 1}, "a table header starting with a key", "a table header must start with a key");
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
