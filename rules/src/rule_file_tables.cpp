// [[rule]] and [[rate_limit]] tables: known keys only, types and bounds checked.
#include <algorithm>
#include <array>

#include "rule_file_reader.hpp"
#include "text_functions.hpp"

namespace callsign::rules {
namespace {

bool valid_id(std::string_view id) {
  return !id.empty() && id.size() <= 64 && std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
  });
}

// Reads one table; the first error wins. `name` is the rule's id once known, else "#n".
class table_reader {
 public:
  table_reader(const toml::table& t, std::string_view kind, std::size_t number, rule_error& why)
      : t_(t), kind_(kind), why_(why), name_(cat({"#", std::to_string(number)})) {}

  bool only(std::initializer_list<std::string_view> known) {
    for (auto&& [key, node] : t_) {
      if (std::find(known.begin(), known.end(), key.str()) == known.end()) {
        std::string list;
        for (auto k : known) list += (list.empty() ? "" : ", ") + std::string(k);
        return fail(position_of(key), "one of " + list,
                    cat({"unknown key '", key.str().substr(0, 64), "' in [[", kind_, "]]"}));
      }
    }
    return true;
  }

  bool id(std::string& out) {
    const toml::node* n = t_.get("id");
    if (n == nullptr) return fail(position_of(t_), "an id", cat({"[[", kind_, "]] ", name_, " has no id"}));
    const auto* s = n->as_string();
    if (s == nullptr || !valid_id(s->get())) {
      return fail(position_of(*n), "an id of 1-64 characters a-z, 0-9, '.', '_' or '-'", "id is not a valid rule id");
    }
    out = s->get();
    name_ = out;
    return true;
  }

  bool string(std::string_view key, bool required, std::size_t max, std::string& out, file_position* at = nullptr) {
    const toml::node* n = t_.get(key);
    if (n == nullptr) {
      return !required || fail(position_of(t_), std::string(key), cat({"[[", kind_, "]] ", name_, " has no ", key}));
    }
    const auto* s = n->as_string();
    if (s == nullptr) return fail(position_of(*n), "a string", std::string(key) + " must be a string");
    if (s->get().size() > max) {
      return fail(position_of(*n), "at most " + std::to_string(max) + " bytes",
                  std::string(key) + " is longer than " + std::to_string(max) + " bytes");
    }
    out = s->get();
    if (at != nullptr) *at = position_of(*n);
    return true;
  }

  bool boolean(std::string_view key, bool& out) {
    const toml::node* n = t_.get(key);
    if (n == nullptr) return true;
    const auto* b = n->as_boolean();
    if (b == nullptr) return fail(position_of(*n), "true or false", std::string(key) + " must be true or false");
    out = b->get();
    return true;
  }

  bool integer(std::string_view key, bool required, std::int64_t lo, std::int64_t hi, std::int64_t& out) {
    const toml::node* n = t_.get(key);
    if (n == nullptr) {
      return !required || fail(position_of(t_), std::string(key), cat({"[[", kind_, "]] ", name_, " has no ", key}));
    }
    const auto* i = n->as_integer();
    const std::string range = std::to_string(lo) + ".." + std::to_string(hi);
    if (i == nullptr || i->get() < lo || i->get() > hi) {
      return fail(position_of(*n), "an integer " + range, std::string(key) + " must be an integer " + range);
    }
    out = i->get();
    return true;
  }

  bool fail(file_position at, std::string expected, std::string problem) {
    why_ = make_rule_error(name_, at, std::move(expected), std::move(problem));
    return false;
  }

  const toml::table& table() const { return t_; }

 private:
  const toml::table& t_;
  std::string_view kind_;
  rule_error& why_;
  std::string name_;
};

}  // namespace

bool read_rule_table(const toml::table& t, std::size_t number, rule_file& out, rule_error& why) {
  table_reader r(t, "rule", number, why);
  rule_source rule;
  rule.line = position_of(t).line;
  file_position expression_at;
  std::string action_text;
  if (!r.id(rule.id) || !r.only({"id", "expression", "action", "shadow", "description"}) ||
      !r.string("expression", true, 1 << 20, rule.expression, &expression_at) ||
      !r.string("action", true, 64, action_text) || !r.boolean("shadow", rule.shadow) ||
      !r.string("description", false, 1024, rule.description)) {
    return false;
  }
  const auto act = parse_action(action_text);
  if (!act) return r.fail(position_of(*t.get("action")), "block, challenge, log, allow or skip", "unknown action");
  rule.act = *act;
  out.rules.push_back(std::move(rule));
  out.rule_expression_at.push_back(expression_at);
  return true;
}

bool read_rate_limit_table(const toml::table& t, std::size_t number, rule_file& out, rule_error& why) {
  table_reader r(t, "rate_limit", number, why);
  rate_limit_source rate;
  rate.line = position_of(t).line;
  file_position expression_at;
  if (!r.id(rate.id) ||
      !r.only({"id", "expression", "characteristics", "limit", "period", "mitigation_timeout", "shadow"}) ||
      !r.string("expression", true, 1 << 20, rate.expression, &expression_at) ||
      !r.integer("limit", true, 1, 1000000, rate.limit) || !r.integer("period", true, 1, 86400, rate.period_seconds) ||
      !r.integer("mitigation_timeout", false, 1, 30 * 86400, rate.mitigation_timeout_seconds) ||
      !r.boolean("shadow", rate.shadow)) {
    return false;
  }
  const toml::node* c = t.get("characteristics");
  if (c == nullptr) return r.fail(position_of(t), "characteristics", "[[rate_limit]] " + rate.id + " has no characteristics");
  const toml::array* list = c->as_array();
  bool ip = false, username = false, ok = list != nullptr && !list->empty() && list->size() <= 2;
  for (std::size_t i = 0; ok && i < list->size(); ++i) {
    const auto* s = list->get(i)->as_string();
    if (s != nullptr && s->get() == "ip.src" && !ip) ip = true;
    else if (s != nullptr && s->get() == "login.username" && !username) username = true;
    else ok = false;
  }
  if (!ok) {
    return r.fail(position_of(*c), "[\"ip.src\"], [\"login.username\"] or [\"ip.src\", \"login.username\"]",
                  "characteristics must name ip.src, login.username or both");
  }
  rate.by = ip && username ? characteristic::ip_username : (ip ? characteristic::ip : characteristic::username);
  out.rate_limits.push_back(std::move(rate));
  out.rate_expression_at.push_back(expression_at);
  return true;
}

}  // namespace callsign::rules
