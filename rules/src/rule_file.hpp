// A rule file's TOML ([[rule]], [[rate_limit]], [lists]) read into sources and built lists,
// every value checked; nothing compiled yet. Errors name the file line and column.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "rules/rule_set.hpp"
#include "toml_positions.hpp"

namespace callsign::rules {

inline constexpr std::size_t max_rule_file_bytes = 4 * 1024 * 1024;
inline constexpr std::size_t max_rules_per_file = 1000;  // [[rule]] and [[rate_limit]] together
inline constexpr std::size_t max_lists_per_file = 8;     // each IPv4 table is 4 MiB
inline constexpr std::size_t max_list_entries = 100000;  // over all [lists]

using file_lists = std::map<std::string, std::shared_ptr<const storage::ip_set>, std::less<>>;

struct rule_file {
  std::vector<rule_source> rules;
  std::vector<rate_limit_source> rate_limits;
  file_lists lists;
  // Where each expression's string literal starts, for positions inside it.
  std::vector<file_position> rule_expression_at;
  std::vector<file_position> rate_expression_at;
};

bool read_rule_file(std::string_view text, const list_resolver& resolve, rule_file& out, rule_error& why);

// "rule \"id\" at line L, column C: problem" (parts left out when unknown).
rule_error make_rule_error(std::string rule, file_position at, std::string expected, std::string problem);

}  // namespace callsign::rules
