// What a rule file change changes, for the audit journal (docs/rules.md, "Lifecycle"): rule ids
// added, removed and changed, and a line diff of the text. Rule text is audited; request values
// never reach a rule file, so the diff holds none.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "rules/rule_set.hpp"

namespace callsign::server {

struct rule_file_diff {
  std::vector<std::string> added;    // ids of [[rule]] and [[rate_limit]] tables
  std::vector<std::string> removed;
  std::vector<std::string> changed;  // same id, other expression, action, shadow or limits
  // "-<old line no> <text>" and "+<new line no> <text>", in file order. A diff too large to
  // compute line by line (over max_diff_cells) is every old line removed and every new added.
  std::vector<std::string> lines;
};

inline constexpr std::size_t max_diff_cells = 4'000'000;

rule_file_diff diff_rule_files(const rules::rule_set& before, std::string_view before_text,
                               const rules::rule_set& after, std::string_view after_text);

// The diff's lines packed into chunks of at most `chunk_bytes` (audit detail values), in order.
std::vector<std::string> pack_diff_lines(const std::vector<std::string>& lines, std::size_t chunk_bytes);

}  // namespace callsign::server
