// Equal leaves of one file share a result slot; needle, eq/ne and integer groups answer many
// leaves of one value at once; guards name the slots an expression requires (leaf_sharing.hpp).
#include "leaf_sharing.hpp"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <re2/filtered_re2.h>

#include "text_functions.hpp"

namespace callsign::rules {
namespace {

std::uint32_t as_index(std::size_t size) { return static_cast<std::uint32_t>(size); }

// Equal keys mean the same bytes in one pass: the field, header slot and functions applied.
std::string value_key(const compiled_expression& e, std::uint32_t i) {
  const value_op& v = e.values[i];
  std::string k = cat({std::to_string(static_cast<int>(v.code)), ":", std::to_string(static_cast<int>(v.source))});
  if (v.code == value_code::header) k.append(":").append(std::to_string(v.arg));
  if (v.code == value_code::lower || v.code == value_code::len) k.append("(").append(value_key(e, v.arg)).append(")");
  return k;
}

// The test, the value and the literal: equal keys give equal results in one pass. Empty for a
// leaf too cheap to be worth a slot.
std::string leaf_key(const compiled_expression& e, const bool_op& op) {
  std::string literal;
  switch (op.code) {
    case op_code::compare_bytes:
    case op_code::contains:
    case op_code::starts_with:
    case op_code::ends_with: literal = e.strings[op.first]; break;
    case op_code::matches: literal = e.regexes[op.first]->pattern(); break;
    case op_code::compare_int: literal = std::to_string(op.number); break;
    case op_code::in_list:  // the set bound, not the name: one name binds one set per compile
      literal = std::to_string(reinterpret_cast<std::uintptr_t>(e.lists[op.first].get()));
      break;
    case op_code::in_strings:
      for (const auto& s : e.string_sets[op.first]) literal.append(std::to_string(s.size())).append(":").append(s);
      break;
    default: return {};
  }
  return cat({std::to_string(static_cast<int>(op.code)), ":", std::to_string(static_cast<int>(op.cmp)), ":",
              value_key(e, op.value), "|", literal});
}

void join_int_group(compile_environment& env, const compiled_expression& e, bool_op& op) {
  constexpr std::int64_t min = std::numeric_limits<std::int64_t>::min();
  constexpr std::int64_t max = std::numeric_limits<std::int64_t>::max();
  const std::int64_t n = op.number;
  int_test t;
  t.slot = op.slot;
  switch (op.cmp) {
    case compare_op::eq: t.lo = t.hi = n; break;
    case compare_op::ne: t.lo = t.hi = n; t.negate = true; break;
    case compare_op::lt: t.lo = n == min ? 1 : min; t.hi = n == min ? 0 : n - 1; break;  // x < min: never
    case compare_op::le: t.lo = min; t.hi = n; break;
    case compare_op::gt: t.lo = n == max ? 1 : n + 1; t.hi = n == max ? 0 : max; break;  // x > max: never
    case compare_op::ge: t.lo = n; t.hi = max; break;
  }
  auto& groups = env.shared->int_groups;
  const std::string group_key = cat({"int/", value_key(e, op.value)});
  auto open = env.open_groups.find(group_key);
  if (open == env.open_groups.end()) {
    groups.emplace_back();
    open = env.open_groups.emplace(group_key, as_index(groups.size() - 1)).first;
  }
  groups[open->second].tests.push_back(t);
  op.group = open->second;
  env.slot_groups[op.slot] = op.group;
}

// The atoms FilteredRE2 finds for the regex, as contains leaves on the ASCII-lowered value,
// when they can rule a match out. Not for a header (its value is not lowered once per pass),
// an inline flag (`(?i)` folds 'k' with U+212A, which ASCII lowering would miss), a non-ASCII
// atom (FilteredRE2 lowers Unicode; lower() only ASCII), or more than 6 atoms.
void add_prefilter(compile_environment& env, compiled_expression& e, bool_op& op) {
  const value_op v = e.values[op.value];
  if (v.code != value_code::bytes_field && v.code != value_code::lower_field) return;
  const std::string& pattern = e.regexes[op.first]->pattern();
  if (pattern.find("(?") != std::string::npos) return;
  re2::FilteredRE2 filter(3);
  RE2::Options options;
  options.set_log_errors(false);
  options.set_max_mem(max_regex_memory);
  int id = 0;
  if (filter.Add(pattern, options, &id) != RE2::NoError) return;
  std::vector<std::string> atoms;
  filter.Compile(&atoms);
  if (atoms.empty() || atoms.size() > 6) return;
  for (const auto& a : atoms) {
    if (a.size() < 2) return;
    for (char c : a) {
      if (static_cast<unsigned char>(c) >= 0x80 || (c >= 'A' && c <= 'Z')) return;
    }
  }
  regex_prefilter p;
  std::vector<int> present, potential;
  for (std::uint32_t mask = 0; mask < (1U << atoms.size()); ++mask) {
    present.clear();
    for (std::size_t k = 0; k < atoms.size(); ++k) {
      if (((mask >> k) & 1U) != 0) present.push_back(static_cast<int>(k));
    }
    filter.AllPotentials(present, &potential);
    if (!potential.empty()) p.table |= std::uint64_t{1} << mask;
  }
  const std::size_t masks = std::size_t{1} << atoms.size();  // at most 64
  const std::uint64_t every = masks == 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << masks) - 1;
  if (p.table == every) return;  // every mask passes: no use
  value_op lowered = v;
  lowered.code = value_code::lower_field;
  e.values.push_back(lowered);
  for (const auto& a : atoms) {
    bool_op atom;
    atom.code = op_code::contains;
    atom.value = as_index(e.values.size() - 1);
    atom.first = as_index(e.strings.size());
    e.strings.push_back(a);
    share_leaf(env, e, atom);
    p.atoms.push_back(atom);
  }
  op.prefilter = as_index(e.prefilters.size());
  e.prefilters.push_back(std::move(p));
}

}  // namespace

void share_leaf(compile_environment& env, compiled_expression& e, bool_op& op) {
  std::string key = leaf_key(e, op);
  if (key.empty()) return;
  auto [it, fresh] = env.leaf_slots.try_emplace(std::move(key), as_index(env.leaf_slots.size()));
  op.slot = it->second;
  if (fresh) env.slot_groups.push_back(no_slot);
  if (op.code == op_code::matches) {
    add_prefilter(env, e, op);  // per expression (its atoms index e's tables); after the slot's entry
    return;
  }
  if (!fresh) {
    op.group = env.slot_groups[op.slot];  // the equal leaf seen first joined (or not) then
    return;
  }
  if (op.code == op_code::compare_int) {
    join_int_group(env, e, op);
    return;
  }
  const bool grouped = op.code == op_code::contains || op.code == op_code::starts_with ||
                       op.code == op_code::ends_with ||
                       (op.code == op_code::compare_bytes && (op.cmp == compare_op::eq || op.cmp == compare_op::ne));
  if (!grouped) return;
  const std::string& needle = e.strings[op.first];
  if (op.code == op_code::contains && needle.size() < 2) return;  // memchr answers these best
  auto& groups = env.shared->groups;
  const std::string group_key = cat({std::to_string(static_cast<int>(op.code)), ":",
                                     std::to_string(static_cast<int>(op.cmp)), "/", value_key(e, op.value)});
  auto open = env.open_groups.find(group_key);
  if (open == env.open_groups.end() || groups[open->second].needles.size() == needle_group::max_needles) {
    groups.emplace_back();
    groups.back().kind = op.code;
    groups.back().negate = op.code == op_code::compare_bytes && op.cmp == compare_op::ne;
    open = env.open_groups.insert_or_assign(group_key, as_index(groups.size() - 1)).first;
  }
  needle_group& g = groups[open->second];
  if (op.code == op_code::contains) {
    const std::uint64_t bit = std::uint64_t{1} << g.needles.size();
    g.pairs.resize(512);
    g.pairs[static_cast<unsigned char>(needle[0])] |= bit;
    g.pairs[256 + static_cast<std::size_t>(static_cast<unsigned char>(needle[1]))] |= bit;
  }
  g.needles.push_back(needle);
  g.slots.push_back(op.slot);
  op.group = open->second;
  env.slot_groups[op.slot] = op.group;
}

namespace {

// The slotted leaves `i` requires: itself, or the required leaves of an all_of's children.
void collect_guards(const compiled_expression& e, std::uint32_t i, guard_set& out) {
  const bool_op& o = e.ops[i];
  if (o.slot != no_slot) {
    if (out.count < out.slots.size()) out.slots[out.count++] = o.slot;
    return;
  }
  if (o.code != op_code::all_of) return;
  for (std::uint32_t k = 0; k < o.count; ++k) collect_guards(e, e.children[o.first + k], out);
}

}  // namespace

guard_set guards_of(const compiled_expression& e) {
  guard_set g;
  collect_guards(e, e.root, g);
  return g;
}

}  // namespace callsign::rules
