// Private to rule_file*.cpp: toml++ (header-only, no exceptions, as in server/src/config/
// config_toml.hpp; the macros must match in every TU that includes it) and the table readers.
#pragma once

#define TOML_HEADER_ONLY 1
#define TOML_EXCEPTIONS 0
#include <toml++/toml.h>

#include "rule_file.hpp"

namespace callsign::rules {

file_position position_of(const toml::node& n);
file_position position_of(const toml::key& k);

bool read_rule_table(const toml::table& t, std::size_t number, rule_file& out, rule_error& why);
bool read_rate_limit_table(const toml::table& t, std::size_t number, rule_file& out, rule_error& why);
bool read_lists_table(const toml::table& t, const list_resolver& resolve, rule_file& out, rule_error& why);

}  // namespace callsign::rules
