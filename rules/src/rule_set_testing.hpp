// The plain path, for tests only: the same file or expression compiled with no leaf shared
// between rules and no needle group (compile_environment::share_work false), so every leaf is
// computed where it is reached and `contains` looks for one needle at a time. The shared path
// (rule_set::compile) must give the same answers: tests/rules/shared_work_test.cpp.
#pragma once

#include <memory>
#include <string_view>

#include "rules/rule_set.hpp"

namespace callsign::rules {

std::shared_ptr<const rule_set> compile_unshared(std::string_view toml_text, const list_resolver& resolve,
                                                 rule_error& why);
expression_ptr compile_expression_unshared(std::string_view text, const list_resolver& resolve, rule_error& why);

}  // namespace callsign::rules
