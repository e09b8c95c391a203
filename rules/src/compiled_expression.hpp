// The flat evaluator one expression compiles to: boolean ops and value ops in arrays, indices
// instead of pointers, regexes built and lists bound. Private to rules/src.
#pragma once

#include <re2/re2.h>

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ip_literal.hpp"
#include "rules/rule_set.hpp"
#include "syntax_tree.hpp"

namespace callsign::rules {

enum class op_code : std::uint8_t {
  all_of, any_of, parity, negate,  // over children[first, first + count)
  truth,                           // values[value] is a boolean
  compare_int, compare_bytes, compare_bool, ip_equal, ip_not_equal,
  contains, matches, starts_with, ends_with,
  in_ints, in_strings, in_ips, in_list,
};

// lower_field: lower() of a plain field, lowered once per evaluation pass and shared by every
// rule that asks (evaluator.hpp).
enum class value_code : std::uint8_t { bytes_field, header, lower, lower_field, int_field, len, bool_field, ip };

struct value_op {
  value_code code = value_code::bytes_field;
  field source = field::ip_src;
  std::uint32_t arg = 0;    // lower, len: the bytes value they read; header: its slot (below)
  std::uint32_t index = 0;  // header: strings[index] (lower-case name); lower: its scratch buffer
  std::uint32_t cost = 1;   // a rough price, to try cheap conditions of and/or first
};

inline constexpr std::uint32_t no_slot = 0xffffffffU;

struct bool_op {
  op_code code = op_code::truth;
  compare_op cmp = compare_op::eq;
  std::uint32_t value = 0;  // the left side
  std::uint32_t first = 0;  // logical: children; others: the literal's index in its table
  std::uint32_t count = 0;
  std::int64_t number = 0;
  std::uint32_t cost = 1;
  // A leaf's result slot, shared by every equal leaf of the file (same test of the same
  // value): computed once per pass. no_slot: computed each time (cheap leaves, plain mode).
  std::uint32_t slot = no_slot;
  // contains: its needle group (file_shared::groups), searched once per pass for all needles.
  std::uint32_t group = no_slot;
  std::uint32_t prefilter = no_slot;  // matches: compiled_expression::prefilters
};

// A literal test that rules a `matches` out before RE2 runs: RE2's FilteredRE2 names the
// atoms (lower-case literals) a match needs; atoms[k] is `contains` on the ASCII-lowered value
// (a leaf with its slot, in the value's needle group), and bit m of `table` says whether the
// regex can match when exactly the atoms in mask m are present.
struct regex_prefilter {
  std::vector<bool_op> atoms;  // at most 6
  std::uint64_t table = 0;
};

// The needles of one kind (contains: 2+ bytes; starts_with; ends_with; eq or ne) that one file tests
// against one value (say lower(http.user_agent)): answered all at once, so later rules find
// their results known. contains scans the value once: a position is a candidate for needle j
// when bit j is set in pairs[value[i]] and in pairs[256 + value[i + 1]].
struct needle_group {
  static constexpr std::size_t max_needles = 64;
  op_code kind = op_code::contains;
  bool negate = false;  // compare_bytes: ne
  // contains only (the others need no tables): 256 each, [0, 256) first and [256, 512) second.
  std::vector<std::uint64_t> pairs;
  std::vector<std::string> needles;
  std::vector<std::uint32_t> slots;  // needles[j]'s result slot
};

// An integer comparison as an interval: true when lo <= x <= hi, flipped by negate (ne); false
// whatever the test when the value is absent (bot.score).
struct int_test {
  std::int64_t lo = 0, hi = 0;
  bool negate = false;
  std::uint32_t slot = 0;
};

// Every integer comparison one file makes on one value (bot.score, len(http.user_agent), ...):
// answered all at once, without a branch per test.
struct int_group {
  std::vector<int_test> tests;
};

// Slots of leaves an expression requires (and-ed at its top): one known false in the pass
// makes the expression false without walking it.
struct guard_set {
  std::array<std::uint32_t, 4> slots{};
  std::uint32_t count = 0;
};

// Where an expression's code sits in its file's arrays (file_shared): the ops, children and
// values of all a file's expressions are contiguous, in rule order, so a pass over the rules
// reads memory in order rather than three allocations per rule.
struct code_at {
  std::uint32_t ops = 0, children = 0, values = 0;  // first index of each
  std::uint32_t root = 0;                           // relative to ops
  guard_set guards;
};

// What a pass needs of the per-thread state, sized for the whole file.
struct pass_needs {
  std::uint32_t lower_buffers = 0;
  std::uint32_t header_slots = 0;
  std::uint32_t leaf_slots = 0;
};

// Shared by every expression of one file (compile_environment); complete once the file is.
struct file_shared {
  pass_needs needs;
  std::vector<needle_group> groups;
  std::vector<int_group> int_groups;
  std::vector<bool_op> ops;
  std::vector<std::uint32_t> children;
  std::vector<value_op> values;
  std::vector<code_at> rule_code;  // by [[rule]] index: a rule skipped by its guards is not touched
};

class compiled_expression {
 public:
  // ops, children and values while compiling; then moved into shared (`at` says where).
  // Indices (children, op.first of logical ops, op.value, value.arg) are relative to the
  // expression's own start.
  std::vector<bool_op> ops;
  std::uint32_t root = 0;
  std::vector<value_op> values;
  std::vector<std::uint32_t> children;
  std::vector<std::string> strings;
  std::vector<std::unique_ptr<RE2>> regexes;
  std::vector<regex_prefilter> prefilters;
  std::vector<std::vector<int_range>> int_sets;  // sorted, merged
  std::vector<std::vector<std::string>> string_sets;  // sorted, unique
  std::vector<inline_ip_set> ip_sets;
  std::vector<storage::ip_address> addresses;
  std::vector<std::shared_ptr<const storage::ip_set>> lists;
  std::uint32_t lower_buffers = 0;
  // Header names get one slot per rule file (compile_environment), so a header's value is
  // looked up once per evaluation pass whatever the number of rules reading it.
  std::uint32_t header_slots = 0;
  field_mask reads;
  std::vector<std::string> list_names;  // bound by in $name, first use first
  std::shared_ptr<const file_shared> shared;  // never null
  code_at at;
};

}  // namespace callsign::rules
