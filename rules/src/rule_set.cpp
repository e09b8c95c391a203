#include "rules/rule_set.hpp"

#include <algorithm>
#include <array>
#include <new>

#include "compiler.hpp"
#include "evaluator.hpp"
#include "rule_file.hpp"
#include "rule_set_testing.hpp"

namespace callsign::rules {
namespace {

constexpr std::array<std::string_view, 5> action_names{"block", "challenge", "log", "allow", "skip"};

}  // namespace

std::string_view action_name(action a) noexcept {
  const auto i = static_cast<std::size_t>(a);
  return i < action_names.size() ? action_names[i] : std::string_view{"?"};
}

std::optional<action> parse_action(std::string_view name) noexcept {
  for (std::size_t i = 0; i < action_names.size(); ++i) {
    if (action_names[i] == name) return static_cast<action>(i);
  }
  return std::nullopt;
}

rule_set::rule_set() = default;
rule_set::~rule_set() = default;

struct rule_set_builder {
  static std::shared_ptr<const rule_set> build(std::string_view text, const list_resolver& resolve, rule_error& why,
                                               bool share_work) {
    rule_file file;
    if (!read_rule_file(text, resolve, file, why)) return nullptr;
    std::shared_ptr<rule_set> set(new rule_set());
    compile_environment env;
    env.share_work = share_work;
    env.resolve = &resolve;
    env.file_lists = &file.lists;
    const auto compile = [&](const std::string& id, const std::string& expression, file_position at,
                             expression_context context) -> expression_ptr {
      expr_error err;
      auto e = compile_in_context(expression, context, env, err);
      if (!e) why = make_rule_error(id, position_in_string(text, at, expression, err.at), err.expected, err.problem);
      return e;
    };
    for (std::size_t i = 0; i < file.rules.size(); ++i) {
      auto e = compile(file.rules[i].id, file.rules[i].expression, file.rule_expression_at[i], expression_context::rule);
      if (!e) return nullptr;
      set->reads_ |= e->reads;
      env.shared->rule_code.push_back(e->at);
      set->rule_exprs_.push_back(std::move(e));
    }
    for (std::size_t i = 0; i < file.rate_limits.size(); ++i) {
      auto e = compile(file.rate_limits[i].id, file.rate_limits[i].expression, file.rate_expression_at[i],
                       expression_context::rate_limit);
      if (!e) return nullptr;
      set->rate_exprs_.push_back(std::move(e));
    }
    for (const auto* exprs : {&set->rule_exprs_, &set->rate_exprs_}) {
      for (const auto& e : *exprs) {
        for (const auto& name : e->list_names) {
          if (std::find(set->list_names_.begin(), set->list_names_.end(), name) == set->list_names_.end()) {
            set->list_names_.push_back(name);
          }
        }
      }
    }
    set->rules_ = std::move(file.rules);
    set->rate_limits_ = std::move(file.rate_limits);
    return set;
  }
};

namespace {

std::shared_ptr<const rule_set> compile_file(std::string_view toml_text, const list_resolver& resolve, rule_error& why,
                                             bool share_work) {
  try {
    return rule_set_builder::build(toml_text, resolve, why, share_work);
  } catch (const std::bad_alloc&) {
    why = make_rule_error("", {}, "a smaller rule file", "out of memory while compiling the rule file");
    return nullptr;
  }
}

}  // namespace

std::shared_ptr<const rule_set> rule_set::compile(std::string_view toml_text, const list_resolver& resolve,
                                                  rule_error& why) {
  return compile_file(toml_text, resolve, why, true);
}

std::shared_ptr<const rule_set> compile_unshared(std::string_view toml_text, const list_resolver& resolve,
                                                 rule_error& why) {
  return compile_file(toml_text, resolve, why, false);
}

void rule_set::evaluate(const request_fields& fields, decision& out) const {
  out.act.reset();
  out.rule.reset();
  out.logged.clear();
  out.shadow.clear();
  if (rule_exprs_.empty()) return;
  const file_shared& shared = *rule_exprs_.front()->shared;
  pass_state& pass = begin_pass(shared.needs);
  for (std::size_t i = 0; i < rules_.size(); ++i) {
    const code_at& code = shared.rule_code[i];
    if (ruled_out(pass, code.guards) || !evaluate_in_pass(pass, shared, code, *rule_exprs_[i], fields)) continue;
    const auto index = static_cast<std::uint32_t>(i);
    const rule_source& r = rules_[i];
    if (r.shadow) {
      out.shadow.push_back(index);
      continue;
    }
    if (r.act == action::log) {
      out.logged.push_back(index);
      continue;
    }
    out.act = r.act;
    out.rule = index;
    return;
  }
}

bool rule_set::counts(std::size_t rate_limit_index, const request_fields& fields) const {
  return rate_limit_index < rate_exprs_.size() && evaluate_expression(*rate_exprs_[rate_limit_index], fields);
}

namespace {

expression_ptr compile_one(std::string_view text, const list_resolver& resolve, rule_error& why, bool share_work) {
  try {
    compile_environment env;
    env.resolve = &resolve;
    env.share_work = share_work;
    expr_error err;
    auto e = compile_in_context(text, expression_context::rule, env, err);
    if (!e) why = make_rule_error("", position_in_text(text, err.at), err.expected, err.problem);
    return e;
  } catch (const std::bad_alloc&) {
    why = make_rule_error("", {}, "a smaller expression", "out of memory while compiling the expression");
    return nullptr;
  }
}

}  // namespace

expression_ptr compile_expression(std::string_view text, const list_resolver& resolve, rule_error& why) {
  return compile_one(text, resolve, why, true);
}

expression_ptr compile_expression_unshared(std::string_view text, const list_resolver& resolve, rule_error& why) {
  return compile_one(text, resolve, why, false);
}

}  // namespace callsign::rules
