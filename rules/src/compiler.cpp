#include "compiler.hpp"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>

#include "leaf_sharing.hpp"
#include "text_functions.hpp"

namespace callsign::rules {
namespace {

std::uint32_t leaf_cost(op_code code) {
  switch (code) {
    case op_code::contains: return 4;
    case op_code::matches: return 12;
    case op_code::compare_bytes:
    case op_code::in_strings:
    case op_code::in_list: return 2;
    default: return 1;
  }
}

class flattener {
 public:
  flattener(expression_context context, compile_environment& env, expr_error& err, compiled_expression& out)
      : context_(context), env_(env), err_(err), out_(out) {}

  // The index of the op for `node`, or nullopt on error.
  std::optional<std::uint32_t> node(const expr_node& n);

 private:
  std::optional<std::uint32_t> value(const value_node& v);
  std::optional<std::uint32_t> logical(const expr_node& n, op_code code);
  bool bind_list(const expr_node& n, bool_op& op);
  bool build_regex(const expr_node& n, bool_op& op);
  bool fail(std::size_t at, std::string expected, std::string problem) {
    err_ = {at, std::move(expected), std::move(problem)};
    return false;
  }
  static std::uint32_t index(std::size_t size) { return static_cast<std::uint32_t>(size); }
  std::uint32_t push(const bool_op& op) {
    out_.ops.push_back(op);
    return index(out_.ops.size() - 1);
  }
  std::uint32_t add_string(std::string s) {
    out_.strings.push_back(std::move(s));
    return index(out_.strings.size() - 1);
  }

  expression_context context_;
  compile_environment& env_;
  expr_error& err_;
  compiled_expression& out_;
};

std::optional<std::uint32_t> flattener::value(const value_node& v) {
  value_op op;
  op.source = v.source;
  switch (v.kind) {
    case value_kind::field:
    case value_kind::header: {
      const field_info& info = info_of(v.source);
      if (context_ == expression_context::rule && !info.in_rules) {
        fail(v.begin, "a field a [[rule]] can read",
             std::string(info.name) + " is only for the counting expression of a [[rate_limit]]");
        return std::nullopt;
      }
      if (context_ == expression_context::rate_limit && !info.in_rate_limit) {
        fail(v.begin, "ip.src, login.username_present, login.success or http.response.code",
             std::string(info.name) +
                 " cannot be read by a rate-limit counting expression (it reads ip.src, "
                 "login.username_present, login.success and http.response.code)");
        return std::nullopt;
      }
      out_.reads.set(static_cast<std::size_t>(v.source));
      if (v.kind == value_kind::header) {
        op.code = value_code::header;
        op.index = add_string(v.literal);
        auto& names = env_.header_names;
        auto slot = std::find(names.begin(), names.end(), v.literal);
        if (slot == names.end()) slot = names.insert(names.end(), v.literal);
        op.arg = index(static_cast<std::size_t>(slot - names.begin()));
        out_.header_slots = std::max(out_.header_slots, op.arg + 1);
        op.cost = 2;
      } else {
        switch (info.type) {
          case value_type::bytes: op.code = value_code::bytes_field; break;
          case value_type::integer: op.code = value_code::int_field; break;
          case value_type::boolean: op.code = value_code::bool_field; break;
          case value_type::ip: op.code = value_code::ip; break;
        }
      }
      break;
    }
    case value_kind::lower:
    case value_kind::len: {
      auto arg = value(*v.arg);
      if (!arg) return std::nullopt;
      op.arg = *arg;
      op.code = v.kind == value_kind::lower ? value_code::lower : value_code::len;
      op.cost = out_.values[*arg].cost + (v.kind == value_kind::lower ? 3 : 0);
      if (v.kind == value_kind::lower && v.arg->kind == value_kind::field) {
        op.code = value_code::lower_field;
        op.source = v.arg->source;
        op.cost = 2;  // lowered once per pass
      } else if (v.kind == value_kind::lower) {
        op.index = out_.lower_buffers++;
      }
      break;
    }
    case value_kind::starts_with:
    case value_kind::ends_with:
      return std::nullopt;  // boolean ops, compiled in node()
  }
  out_.values.push_back(op);
  return index(out_.values.size() - 1);
}

std::optional<std::uint32_t> flattener::logical(const expr_node& n, op_code code) {
  std::vector<std::uint32_t> kids;
  kids.reserve(n.children.size());
  for (const auto& c : n.children) {
    auto k = node(*c);
    if (!k) return std::nullopt;
    kids.push_back(*k);
  }
  bool_op op;
  op.code = code;
  op.cost = 0;
  for (auto k : kids) op.cost += out_.ops[k].cost;
  // and/or have no side effects: trying cheap conditions first changes only the time taken.
  if (code == op_code::all_of || code == op_code::any_of) {
    std::stable_sort(kids.begin(), kids.end(),
                     [&](std::uint32_t a, std::uint32_t b) { return out_.ops[a].cost < out_.ops[b].cost; });
  }
  op.first = index(out_.children.size());
  op.count = index(kids.size());
  out_.children.insert(out_.children.end(), kids.begin(), kids.end());
  return push(op);
}

bool flattener::bind_list(const expr_node& n, bool_op& op) {
  std::shared_ptr<const storage::ip_set> set;
  if (env_.file_lists != nullptr) {
    if (auto it = env_.file_lists->find(n.bytes); it != env_.file_lists->end()) set = it->second;
  }
  if (!set && env_.resolve != nullptr && *env_.resolve) set = (*env_.resolve)(n.bytes);
  if (!set) {
    return fail(n.rhs_begin, "a list defined in [lists] or a managed list", "there is no list named $" + n.bytes);
  }
  op.code = op_code::in_list;
  op.first = index(out_.lists.size());
  out_.lists.push_back(std::move(set));
  if (std::find(out_.list_names.begin(), out_.list_names.end(), n.bytes) == out_.list_names.end()) {
    out_.list_names.push_back(n.bytes);
  }
  return true;
}

bool flattener::build_regex(const expr_node& n, bool_op& op) {
  if (env_.regexes_left == 0) {
    return fail(n.rhs_begin, "at most 128 regular expressions in a rule file",
                "the rule file has more than 128 regular expressions");
  }
  --env_.regexes_left;
  RE2::Options options;
  options.set_log_errors(false);
  options.set_max_mem(max_regex_memory);
  auto re = std::make_unique<RE2>(n.bytes, options);
  if (!re->ok()) {
    return fail(n.rhs_begin, "a valid RE2 regular expression (docs/rules.md, \"matches\")",
                "invalid regular expression: " + re->error());
  }
  if (re->ProgramSize() > env_.regex_program_left) {
    return fail(n.rhs_begin,
                "regular expressions of at most " + std::to_string(max_regex_program_per_file) +
                    " RE2 instructions in all in a rule file (docs/rules.md, \"matches\")",
                "the rule file's regular expressions are too large: this one takes " +
                    std::to_string(re->ProgramSize()) + " RE2 instructions and " +
                    std::to_string(env_.regex_program_left) + " of the file's " +
                    std::to_string(max_regex_program_per_file) + " are left");
  }
  env_.regex_program_left -= re->ProgramSize();
  op.code = op_code::matches;
  op.first = index(out_.regexes.size());
  out_.regexes.push_back(std::move(re));
  return true;
}

std::optional<std::uint32_t> flattener::node(const expr_node& n) {
  switch (n.kind) {
    case node_kind::all_of: return logical(n, op_code::all_of);
    case node_kind::any_of: return logical(n, op_code::any_of);
    case node_kind::parity: return logical(n, op_code::parity);
    case node_kind::negate: return logical(n, op_code::negate);
    default: break;
  }
  const value_node& lhs = *n.value;
  bool_op op;
  op.cmp = n.op;
  op.number = n.number;
  // starts_with / ends_with are booleans over their argument.
  const value_node& operand =
      (lhs.kind == value_kind::starts_with || lhs.kind == value_kind::ends_with) ? *lhs.arg : lhs;
  auto v = value(operand);
  if (!v) return std::nullopt;
  op.value = *v;
  if (&operand != &lhs) {
    op.code = lhs.kind == value_kind::starts_with ? op_code::starts_with : op_code::ends_with;
    op.first = add_string(lhs.literal);
    op.cost = out_.values[op.value].cost + 1;
    if (env_.share_work) share_leaf(env_, out_, op);
    const std::uint32_t call = push(op);
    if (n.kind == node_kind::truth) return call;
    // `starts_with(...) eq false`: compare the call's result.
    bool_op cmp;
    cmp.code = n.op == compare_op::eq ? (n.number != 0 ? op_code::all_of : op_code::negate)
                                      : (n.number != 0 ? op_code::negate : op_code::all_of);
    cmp.first = index(out_.children.size());
    cmp.count = 1;
    cmp.cost = op.cost;
    out_.children.push_back(call);
    return push(cmp);
  }
  switch (n.kind) {
    case node_kind::truth: op.code = op_code::truth; break;
    case node_kind::compare:
      switch (lhs.type) {
        case value_type::integer: op.code = op_code::compare_int; break;
        case value_type::bytes:
          op.code = op_code::compare_bytes;
          op.first = add_string(n.bytes);
          break;
        case value_type::boolean: op.code = op_code::compare_bool; break;
        case value_type::ip:
          op.code = n.op == compare_op::eq ? op_code::ip_equal : op_code::ip_not_equal;
          op.first = index(out_.addresses.size());
          out_.addresses.push_back(n.ip.address);
          break;
      }
      break;
    case node_kind::contains:
      op.code = op_code::contains;
      op.first = add_string(n.bytes);
      break;
    case node_kind::matches:
      if (!build_regex(n, op)) return std::nullopt;
      break;
    case node_kind::in_list:
      if (!bind_list(n, op)) return std::nullopt;
      break;
    case node_kind::in_set:
      if (lhs.type == value_type::integer) {
        auto ranges = n.int_set;
        std::sort(ranges.begin(), ranges.end(), [](const int_range& a, const int_range& b) { return a.lo < b.lo; });
        std::vector<int_range> merged;
        for (const auto& r : ranges) {
          if (!merged.empty() && r.lo <= merged.back().hi) {
            merged.back().hi = std::max(merged.back().hi, r.hi);
          } else {
            merged.push_back(r);
          }
        }
        op.code = op_code::in_ints;
        op.first = index(out_.int_sets.size());
        out_.int_sets.push_back(std::move(merged));
      } else if (lhs.type == value_type::bytes) {
        op.code = op_code::in_strings;
        op.first = index(out_.string_sets.size());
        out_.string_sets.push_back(n.bytes_set);
      } else {
        op.code = op_code::in_ips;
        op.first = index(out_.ip_sets.size());
        out_.ip_sets.push_back(inline_ip_set::build(n.ip_set));
      }
      break;
    default: return std::nullopt;
  }
  op.cost = out_.values[op.value].cost + leaf_cost(op.code);
  if (env_.share_work) share_leaf(env_, out_, op);
  return push(op);
}

}  // namespace

expression_ptr compile_in_context(std::string_view text, expression_context context, compile_environment& env,
                                  expr_error& err) {
  auto tree = parse_expression(text, err);
  if (!tree) return nullptr;
  expression_ptr out(new compiled_expression());
  auto root = flattener(context, env, err, *out).node(*tree);
  if (!root) return nullptr;
  out->root = *root;
  pass_needs& needs = env.shared->needs;
  needs.lower_buffers = std::max(needs.lower_buffers, out->lower_buffers);
  needs.header_slots = static_cast<std::uint32_t>(env.header_names.size());
  needs.leaf_slots = static_cast<std::uint32_t>(env.leaf_slots.size());
  out->at.guards = guards_of(*out);
  file_shared& shared = *env.shared;
  out->at.ops = static_cast<std::uint32_t>(shared.ops.size());
  out->at.children = static_cast<std::uint32_t>(shared.children.size());
  out->at.values = static_cast<std::uint32_t>(shared.values.size());
  out->at.root = out->root;
  shared.ops.insert(shared.ops.end(), out->ops.begin(), out->ops.end());
  shared.children.insert(shared.children.end(), out->children.begin(), out->children.end());
  shared.values.insert(shared.values.end(), out->values.begin(), out->values.end());
  out->ops = {};
  out->children = {};
  out->values = {};
  out->shared = env.shared;
  return out;
}

void expression_deleter::operator()(compiled_expression* e) const noexcept { delete e; }

}  // namespace callsign::rules
