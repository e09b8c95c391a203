// Parse tree to compiled_expression: checks which fields the context may read, builds the
// regexes (bounded memory), binds lists (file-defined first, then the resolver).
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "compiled_expression.hpp"
#include "field_table.hpp"
#include "parser.hpp"

namespace callsign::rules {

inline constexpr std::int64_t max_regex_memory = 256 * 1024;  // RE2 max_mem per regex
inline constexpr std::size_t max_regexes_per_file = 128;
// The size of every regex's RE2 program together (instructions, RE2::ProgramSize). A match costs
// about the input's length times its program's size once RE2's DFA gives up, and every regex of a
// file runs on each request: this bounds the work one request can cost. Real patterns take 6-60
// instructions; `[a-z]{1000}` takes 1000.
inline constexpr int max_regex_program_per_file = 8192;

struct compile_environment {
  const list_resolver* resolve = nullptr;  // may be null or empty: managed lists unknown
  const std::map<std::string, std::shared_ptr<const storage::ip_set>, std::less<>>* file_lists = nullptr;
  std::size_t regexes_left = max_regexes_per_file;  // shared across a file's expressions
  int regex_program_left = max_regex_program_per_file;  // likewise
  std::vector<std::string> header_names;            // slot -> lower-case name, shared likewise
  // false: every leaf computed each time it is reached, `contains` one needle at a time (the
  // plain path the tests compare the shared one with: rule_set_testing.hpp).
  bool share_work = true;
  std::map<std::string, std::uint32_t, std::less<>> leaf_slots;  // leaf key -> result slot
  std::vector<std::uint32_t> slot_groups;  // slot -> its needle group, or no_slot
  std::map<std::string, std::uint32_t, std::less<>> open_groups;  // value key -> needle group
  std::shared_ptr<file_shared> shared = std::make_shared<file_shared>();
};

// Parse and compile `text`; nullptr with `err` filled.
expression_ptr compile_in_context(std::string_view text, expression_context context, compile_environment& env,
                                  expr_error& err);

}  // namespace callsign::rules
