// Expression text to a typed parse tree (syntax_tree.hpp). Precedence as wirefilter's:
// not > and > xor > or; `not` applies to the comparison after it. Grammar in docs/rules.md.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "lexer.hpp"
#include "syntax_tree.hpp"

namespace callsign::rules {

// Hard limits against hostile rule files (docs/rules.md, "Limits").
inline constexpr std::size_t max_expression_bytes = 4096;
inline constexpr int max_nesting = 64;  // parentheses, not, function calls
inline constexpr std::size_t max_set_values = 1024;

// Where an expression went wrong: `at` is a byte offset in it. `expected` names what should
// be there; `problem` is the sentence for people (starts lower-case, no position).
struct expr_error {
  std::size_t at = 0;
  std::string expected;
  std::string problem;
};

std::unique_ptr<expr_node> parse_expression(std::string_view text, expr_error& err);

// Private to parser*.cpp.
class expression_parser {
 public:
  expression_parser(std::string_view text, expr_error& err) : text_(text), err_(err) {}
  std::unique_ptr<expr_node> parse();

 private:
  std::unique_ptr<expr_node> parse_or();
  std::unique_ptr<expr_node> parse_xor();
  std::unique_ptr<expr_node> parse_and();
  std::unique_ptr<expr_node> parse_unary();
  std::unique_ptr<expr_node> parse_primary();
  std::unique_ptr<expr_node> parse_condition();
  std::unique_ptr<value_node> parse_value();
  std::unique_ptr<value_node> parse_function(const token& name);
  std::unique_ptr<value_node> parse_header(const token& name);
  bool parse_comparison(expr_node& node, compare_op op, const token& op_token);
  bool parse_set(expr_node& node);
  bool parse_set_element(expr_node& node, const token& t);

  token peek() const { return next_token(text_, pos_); }
  token take();
  bool enter(std::size_t at);  // one nesting level deeper; false past max_nesting
  void leave() { --depth_; }
  std::string_view source(const value_node& v) const;
  std::string describe(const token& t) const;
  // Record the first error; returns false so callers can `return fail(...)` in bool context.
  bool fail(std::size_t at, std::string expected, std::string problem = {});
  bool fail_found(const token& found, std::string expected);
  bool fail_token(const token& t);  // an error token from the lexer

  std::string_view text_;
  expr_error& err_;
  std::size_t pos_ = 0;
  int depth_ = 0;
};

}  // namespace callsign::rules
