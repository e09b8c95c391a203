// A rule file compiled once per version (docs/rules.md): wirefilter-style expressions over
// request_fields, each with an action, evaluated in order. Compiling parses every expression
// into a tree, then flattens it into an evaluator with regexes (RE2) built and list lookups
// bound; evaluation allocates nothing and never fails.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "rules/request_fields.hpp"
#include "storage/lists/ip_set.hpp"

namespace callsign::rules {

enum class action : std::uint8_t { block, challenge, log, allow, skip };
std::string_view action_name(action a) noexcept;  // "block", ...
std::optional<action> parse_action(std::string_view name) noexcept;

// A rule file's characteristics for rate-limit rules: what a rule counts by.
enum class characteristic : std::uint8_t { ip, username, ip_username };

// [[rule]] in the file.
struct rule_source {
  std::string id;  // [a-z0-9._-], 1-64 bytes, unique in the file
  std::string expression;
  action act = action::block;
  bool shadow = false;  // the action is only logged and counted
  std::string description;
  int line = 0;  // where the [[rule]] table starts in the file (1-based); 0 when not from a file
};

// [[rate_limit]] in the file: counts the reported login outcomes (POST /v1/login/result) whose
// fields match `expression` (for example `not login.success`), per characteristic, and blocks
// the key for `mitigation_timeout_seconds` once `limit` counts fall in `period_seconds`.
struct rate_limit_source {
  std::string id;  // same rules as rule ids, unique among rules and rate limits
  std::string expression;
  characteristic by = characteristic::ip;
  std::int64_t limit = 5;
  std::int64_t period_seconds = 60;
  std::int64_t mitigation_timeout_seconds = 3600;
  bool shadow = false;
  int line = 0;
};

// Why a rule file was refused: the first problem found. `rule` is the id (or "#<n>" when the
// rule has no usable id); line and column are 1-based positions in the FILE when the text came
// from one (0 when unknown), and `expected` says what the parser wanted there ("a field name",
// "')'", "an IP address or CIDR", ...). Never holds request values; may quote rule text.
struct rule_error {
  std::string rule;
  int line = 0;
  int column = 0;
  std::string expected;
  std::string message;  // one sentence for people, naming rule, line and column
};

// Named IP lists an expression may use as `ip.src in $name`. The resolver answers a set (bound
// into the compiled rule set, which keeps it alive) or nullptr when there is no such list.
// Managed lists that are configured but not loaded resolve to an empty set, not to nullptr.
using list_resolver = std::function<std::shared_ptr<const storage::ip_set>(std::string_view name)>;

class compiled_expression;  // private to rules/src
struct expression_deleter {
  void operator()(compiled_expression* e) const noexcept;
};
using expression_ptr = std::unique_ptr<compiled_expression, expression_deleter>;

struct rule_hit {
  std::uint32_t index = 0;  // into rules()
};

struct decision {
  // The first terminating action (block, challenge, allow, skip), or nullopt when no
  // non-shadow rule with a terminating action matched (the request goes on: allow).
  std::optional<action> act;
  std::optional<std::uint32_t> rule;  // index of the rule that decided
  std::vector<std::uint32_t> logged;  // non-shadow `log` rules that matched, in order
  std::vector<std::uint32_t> shadow;  // shadow rules that matched (any action), in order
};

// Thread-safety: immutable after compile(); evaluate() may run concurrently.
class rule_set {
 public:
  // The file text (TOML: [[rule]], [[rate_limit]], [lists] name = ["cidr", ...]). Lists named
  // in [lists] shadow nothing: a name also given by `resolve` is refused as ambiguous.
  // nullptr on refusal, with `why` filled (the first problem). An empty text is a valid,
  // empty rule set.
  static std::shared_ptr<const rule_set> compile(std::string_view toml_text, const list_resolver& resolve,
                                                 rule_error& why);

  ~rule_set();
  rule_set(const rule_set&) = delete;
  rule_set& operator=(const rule_set&) = delete;

  const std::vector<rule_source>& rules() const noexcept { return rules_; }
  const std::vector<rate_limit_source>& rate_limits() const noexcept { return rate_limits_; }
  // Fields any [[rule]] reads; the caller computes only these.
  field_mask reads() const noexcept { return reads_; }
  // The list names the rules bind (managed and file-defined), for a recompile on list reload.
  const std::vector<std::string>& list_names() const noexcept { return list_names_; }

  // Rules in order: skip stops; shadow rules never decide. `out` is cleared and reused, so a
  // caller holding one per thread allocates nothing after warm-up.
  void evaluate(const request_fields& fields, decision& out) const;
  // A rate limit's counting expression against a reported outcome.
  bool counts(std::size_t rate_limit_index, const request_fields& fields) const;

 private:
  rule_set();
  std::vector<rule_source> rules_;
  std::vector<rate_limit_source> rate_limits_;
  std::vector<expression_ptr> rule_exprs_;
  std::vector<expression_ptr> rate_exprs_;
  field_mask reads_;
  std::vector<std::string> list_names_;
  friend struct rule_set_builder;
};

// One expression alone (the fuzz target, unit tests): parse and compile, or nullptr with `why`
// filled (line/column inside `text`; rule empty).
expression_ptr compile_expression(std::string_view text, const list_resolver& resolve, rule_error& why);
bool evaluate_expression(const compiled_expression& e, const request_fields& fields);

}  // namespace callsign::rules
