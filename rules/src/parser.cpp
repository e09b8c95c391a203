#include "parser.hpp"

#include <utility>

namespace callsign::rules {
namespace {

bool is_name(const token& t, std::string_view word) { return t.kind == token_kind::name && t.text == word; }
bool is_or(const token& t) { return t.kind == token_kind::or_op || is_name(t, "or"); }
bool is_xor(const token& t) { return t.kind == token_kind::xor_op || is_name(t, "xor"); }
bool is_and(const token& t) { return t.kind == token_kind::and_op || is_name(t, "and"); }
bool is_not(const token& t) { return t.kind == token_kind::not_op || is_name(t, "not"); }

std::optional<compare_op> comparison_of(const token& t) {
  switch (t.kind) {
    case token_kind::eq: return compare_op::eq;
    case token_kind::ne: return compare_op::ne;
    case token_kind::lt: return compare_op::lt;
    case token_kind::le: return compare_op::le;
    case token_kind::gt: return compare_op::gt;
    case token_kind::ge: return compare_op::ge;
    default: break;
  }
  if (t.kind != token_kind::name) return std::nullopt;
  static constexpr std::pair<std::string_view, compare_op> words[] = {
      {"eq", compare_op::eq}, {"ne", compare_op::ne}, {"lt", compare_op::lt},
      {"le", compare_op::le}, {"gt", compare_op::gt}, {"ge", compare_op::ge}};
  for (const auto& [w, op] : words) {
    if (t.text == w) return op;
  }
  return std::nullopt;
}

std::unique_ptr<expr_node> logical(node_kind kind, std::unique_ptr<expr_node> first) {
  auto node = std::make_unique<expr_node>();
  node->kind = kind;
  node->begin = first->begin;
  node->children.push_back(std::move(first));
  return node;
}

}  // namespace

std::unique_ptr<expr_node> parse_expression(std::string_view text, expr_error& err) {
  if (text.size() > max_expression_bytes) {
    err = {max_expression_bytes, "an expression of at most 4096 bytes",
           "the expression is longer than 4096 bytes"};
    return nullptr;
  }
  return expression_parser(text, err).parse();
}

std::unique_ptr<expr_node> expression_parser::parse() {
  auto root = parse_or();
  if (!root) return nullptr;
  const token t = peek();
  if (t.kind != token_kind::end) {
    fail_found(t, "and, or, xor or the end of the expression");
    return nullptr;
  }
  return root;
}

token expression_parser::take() {
  token t = peek();
  pos_ = t.end;
  return t;
}

bool expression_parser::enter(std::size_t at) {
  if (++depth_ > max_nesting) {
    return fail(at, "at most 64 nested parentheses, not and function calls",
                "the expression nests deeper than 64 levels");
  }
  return true;
}

bool expression_parser::fail(std::size_t at, std::string expected, std::string problem) {
  if (err_.expected.empty() && err_.problem.empty()) {
    err_.at = at;
    if (problem.empty()) problem = "expected " + expected;
    err_.expected = std::move(expected);
    err_.problem = std::move(problem);
  }
  return false;
}

std::string expression_parser::describe(const token& t) const {
  if (t.kind == token_kind::end) return "the end of the expression";
  // Appended piecewise: "'" + std::string(...) trips GCC 12's -Wrestrict false positive at -O3.
  std::string out(1, '\'');
  out.append(t.text.substr(0, 40));
  if (t.text.size() > 40) out.append("...");
  out.push_back('\'');
  return out;
}

bool expression_parser::fail_found(const token& found, std::string expected) {
  if (found.kind == token_kind::error) return fail_token(found);
  std::string problem = "expected " + expected + ", found " + describe(found);
  return fail(found.begin, std::move(expected), std::move(problem));
}

bool expression_parser::fail_token(const token& t) { return fail(t.error_at, t.value); }

std::string_view expression_parser::source(const value_node& v) const {
  std::string_view s = text_.substr(v.begin, v.end - v.begin);
  return s.size() > 60 ? s.substr(0, 60) : s;
}

std::unique_ptr<expr_node> expression_parser::parse_or() {
  auto first = parse_xor();
  if (!first || !is_or(peek())) return first;
  auto node = logical(node_kind::any_of, std::move(first));
  while (is_or(peek())) {
    take();
    auto next = parse_xor();
    if (!next) return nullptr;
    node->children.push_back(std::move(next));
  }
  return node;
}

std::unique_ptr<expr_node> expression_parser::parse_xor() {
  auto first = parse_and();
  if (!first || !is_xor(peek())) return first;
  auto node = logical(node_kind::parity, std::move(first));
  while (is_xor(peek())) {
    take();
    auto next = parse_and();
    if (!next) return nullptr;
    node->children.push_back(std::move(next));
  }
  return node;
}

std::unique_ptr<expr_node> expression_parser::parse_and() {
  auto first = parse_unary();
  if (!first || !is_and(peek())) return first;
  auto node = logical(node_kind::all_of, std::move(first));
  while (is_and(peek())) {
    take();
    auto next = parse_unary();
    if (!next) return nullptr;
    node->children.push_back(std::move(next));
  }
  return node;
}

std::unique_ptr<expr_node> expression_parser::parse_unary() {
  const token t = peek();
  if (!is_not(t)) return parse_primary();
  take();
  if (!enter(t.begin)) return nullptr;
  auto child = parse_unary();
  leave();
  if (!child) return nullptr;
  auto node = std::make_unique<expr_node>();
  node->kind = node_kind::negate;
  node->begin = t.begin;
  node->children.push_back(std::move(child));
  return node;
}

std::unique_ptr<expr_node> expression_parser::parse_primary() {
  const token t = peek();
  if (t.kind != token_kind::lparen) return parse_condition();
  take();
  if (!enter(t.begin)) return nullptr;
  auto inner = parse_or();
  leave();
  if (!inner) return nullptr;
  const token close = peek();
  if (close.kind != token_kind::rparen) {
    fail_found(close, "')' to close the '('");
    return nullptr;
  }
  take();
  return inner;
}

// A value, then what is said about it; a boolean value may stand alone.
std::unique_ptr<expr_node> expression_parser::parse_condition() {
  auto node = std::make_unique<expr_node>();
  node->begin = skip_blanks(text_, pos_);
  node->value = parse_value();
  if (!node->value) return nullptr;
  const value_node& v = *node->value;
  const std::string lhs(source(v));
  const token t = peek();
  const auto needs_bytes = [&](std::string_view op) {
    if (v.type == value_type::bytes) return true;
    return fail(t.begin, "a string field before " + std::string(op),
                lhs + " is " + std::string(type_phrase(v.type)) + "; " + std::string(op) + " needs a string field");
  };
  const auto string_operand = [&](std::string_view what) {
    const token s = take();
    if (s.kind != token_kind::string) return fail_found(s, std::string(what));
    node->bytes = s.value;
    node->rhs_begin = s.begin;
    return true;
  };
  if (auto op = comparison_of(t)) {
    take();
    return parse_comparison(*node, *op, t) ? std::move(node) : nullptr;
  }
  if (is_name(t, "contains")) {
    take();
    node->kind = node_kind::contains;
    if (!needs_bytes("contains") || !string_operand("a string literal after contains")) return nullptr;
    return node;
  }
  if (is_name(t, "matches") || t.kind == token_kind::tilde) {
    take();
    node->kind = node_kind::matches;
    if (!needs_bytes("matches") || !string_operand("a regular expression string after matches")) return nullptr;
    return node;
  }
  if (is_name(t, "in")) {
    take();
    const token r = peek();
    if (r.kind == token_kind::list_ref) {
      take();
      if (v.type != value_type::ip) {
        fail(r.begin, "ip.src before in $list", lhs + " is " + std::string(type_phrase(v.type)) + "; in $" + r.value +
                                                     " needs ip.src");
        return nullptr;
      }
      node->kind = node_kind::in_list;
      node->bytes = r.value;
      node->rhs_begin = r.begin;
      return node;
    }
    if (r.kind != token_kind::lbrace) {
      fail_found(r, "'{' or a $list after in");
      return nullptr;
    }
    if (v.type == value_type::boolean) {
      fail(r.begin, "an integer, string or IP field before in {...}", lhs + " is a boolean; in {...} needs an integer, string or IP field");
      return nullptr;
    }
    node->kind = node_kind::in_set;
    return parse_set(*node) ? std::move(node) : nullptr;
  }
  if (v.type != value_type::boolean) {
    fail_found(t, "a comparison after " + lhs + " (it is " + std::string(type_phrase(v.type)) + ", not a boolean)");
    return nullptr;
  }
  node->kind = node_kind::truth;
  return node;
}

}  // namespace callsign::rules
