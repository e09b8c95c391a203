// The value side of the parser: fields, headers, function calls, literals and sets.
#include <algorithm>

#include "parser.hpp"
#include "text_functions.hpp"

namespace callsign::rules {
namespace {

bool is_token_char(char c) {
  // RFC 9110 tchar
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

}  // namespace

std::unique_ptr<value_node> expression_parser::parse_value() {
  const token t = take();
  if (t.kind != token_kind::name) {
    fail_found(t, "a field name, a function or '('");
    return nullptr;
  }
  if (peek().kind == token_kind::lparen) return parse_function(t);
  const auto f = field_by_name(t.text);
  if (!f) {
    fail(t.begin, "a field name", "unknown field " + describe(t) + " (docs/rules.md lists the fields)");
    return nullptr;
  }
  if (*f == field::http_request_headers) return parse_header(t);
  auto v = std::make_unique<value_node>();
  v->kind = value_kind::field;
  v->source = *f;
  v->type = info_of(*f).type;
  v->begin = t.begin;
  v->end = t.end;
  return v;
}

std::unique_ptr<value_node> expression_parser::parse_header(const token& name) {
  const token open = take();
  if (open.kind != token_kind::lbracket) {
    fail_found(open, "'[\"name\"]' after http.request.headers");
    return nullptr;
  }
  const token key = take();
  if (key.kind != token_kind::string) {
    fail_found(key, "a header name in double quotes");
    return nullptr;
  }
  if (key.value.empty() || key.value.size() > 256 || !std::all_of(key.value.begin(), key.value.end(), is_token_char)) {
    fail(key.begin, "a header name (1-256 token characters)");
    return nullptr;
  }
  const token close = take();
  if (close.kind != token_kind::rbracket) {
    fail_found(close, "']' after the header name");
    return nullptr;
  }
  auto v = std::make_unique<value_node>();
  v->kind = value_kind::header;
  v->source = field::http_request_headers;
  v->type = value_type::bytes;
  v->literal = ascii_lower(key.value);
  v->begin = name.begin;
  v->end = close.end;
  return v;
}

std::unique_ptr<value_node> expression_parser::parse_function(const token& name) {
  struct signature {
    std::string_view name;
    value_kind kind;
    value_type result;
    bool takes_affix;
  };
  static constexpr signature functions[] = {
      {"lower", value_kind::lower, value_type::bytes, false},
      {"len", value_kind::len, value_type::integer, false},
      {"starts_with", value_kind::starts_with, value_type::boolean, true},
      {"ends_with", value_kind::ends_with, value_type::boolean, true},
  };
  const signature* sig = nullptr;
  for (const auto& s : functions) {
    if (s.name == name.text) sig = &s;
  }
  if (sig == nullptr) {
    fail(name.begin, "a function: lower, len, starts_with or ends_with", "unknown function " + describe(name));
    return nullptr;
  }
  take();  // '('
  if (!enter(name.begin)) return nullptr;
  auto arg = parse_value();
  leave();
  if (!arg) return nullptr;
  if (arg->type != value_type::bytes) {
    fail(arg->begin, "a string field as the first argument of " + std::string(sig->name),
         std::string(source(*arg)) + " is " + std::string(type_phrase(arg->type)) + "; " + std::string(sig->name) +
             "() needs a string field");
    return nullptr;
  }
  auto v = std::make_unique<value_node>();
  v->kind = sig->kind;
  v->type = sig->result;
  v->source = arg->source;
  v->arg = std::move(arg);
  v->begin = name.begin;
  if (sig->takes_affix) {
    const token comma = take();
    if (comma.kind != token_kind::comma) {
      fail_found(comma, "',' and a string literal (" + std::string(sig->name) + " takes two arguments)");
      return nullptr;
    }
    const token affix = take();
    if (affix.kind != token_kind::string) {
      fail_found(affix, "a string literal as the second argument of " + std::string(sig->name));
      return nullptr;
    }
    v->literal = affix.value;
  }
  const token close = take();
  if (close.kind != token_kind::rparen) {
    fail_found(close, sig->takes_affix ? "')' (" + std::string(sig->name) + " takes two arguments)"
                                       : "')' (" + std::string(sig->name) + " takes one argument)");
    return nullptr;
  }
  v->end = close.end;
  return v;
}

bool expression_parser::parse_comparison(expr_node& node, compare_op op, const token& op_token) {
  const value_node& v = *node.value;
  const std::string lhs(source(v));
  node.kind = node_kind::compare;
  node.op = op;
  const bool ordering = op != compare_op::eq && op != compare_op::ne;
  if (ordering && (v.type == value_type::ip || v.type == value_type::boolean)) {
    return fail(op_token.begin, "eq or ne for " + std::string(type_phrase(v.type)),
                lhs + " is " + std::string(type_phrase(v.type)) + "; " + std::string(op_token.text) +
                    " needs an integer or string field");
  }
  const token t = v.type == value_type::ip ? next_ip_token(text_, pos_) : take();
  node.rhs_begin = t.begin;
  switch (v.type) {
    case value_type::integer:
      if (t.kind != token_kind::integer) return fail_found(t, "an integer to compare " + lhs + " with");
      node.number = t.number;
      return true;
    case value_type::bytes:
      if (t.kind != token_kind::string) return fail_found(t, "a string literal to compare " + lhs + " with");
      node.bytes = t.value;
      return true;
    case value_type::boolean:
      if (t.kind != token_kind::name || (t.text != "true" && t.text != "false")) {
        return fail_found(t, "true or false to compare " + lhs + " with");
      }
      node.number = t.text == "true" ? 1 : 0;
      return true;
    case value_type::ip: {
      if (t.kind != token_kind::ip) return fail_token(t);
      pos_ = t.end;
      std::string expected;
      auto cidr = parse_ip_cidr(t.text, expected);
      if (!cidr) return fail(t.begin, expected);
      if (cidr->has_length) {
        return fail(t.begin, "an IP address (a CIDR needs in {...})",
                    "ip.src " + std::string(op_token.text) + " takes one address; write ip.src in {" +
                        std::string(t.text) + "} for a network");
      }
      node.ip = *cidr;
      return true;
    }
  }
  return false;
}

bool expression_parser::parse_set(expr_node& node) {
  const token open = take();  // '{'
  node.rhs_begin = open.begin;
  for (;;) {
    const bool ip = node.value->type == value_type::ip;
    token t = ip ? next_ip_token(text_, pos_) : peek();
    if (ip && t.kind == token_kind::error) {
      const token p = peek();
      if (p.kind == token_kind::rbrace) t = p;
    }
    if (t.kind == token_kind::rbrace) {
      pos_ = t.end;
      if (node.int_set.empty() && node.bytes_set.empty() && node.ip_set.empty()) {
        return fail(t.begin, "at least one value in the set");
      }
      break;
    }
    if (node.int_set.size() + node.bytes_set.size() + node.ip_set.size() >= max_set_values) {
      return fail(t.begin, "at most 1024 values in a set", "the set has more than 1024 values");
    }
    pos_ = t.end;
    if (!parse_set_element(node, t)) return false;
  }
  std::sort(node.bytes_set.begin(), node.bytes_set.end());
  node.bytes_set.erase(std::unique(node.bytes_set.begin(), node.bytes_set.end()), node.bytes_set.end());
  return true;
}

bool expression_parser::parse_set_element(expr_node& node, const token& t) {
  switch (node.value->type) {
    case value_type::integer: {
      if (t.kind != token_kind::integer) return fail_found(t, "an integer, a range lo..hi or '}'");
      int_range r{t.number, t.number};
      if (peek().kind == token_kind::dot_dot) {
        take();
        const token hi = take();
        if (hi.kind != token_kind::integer) return fail_found(hi, "an integer after '..'");
        if (hi.number < t.number) return fail(hi.begin, "a range end not below its start");
        r.hi = hi.number;
      }
      node.int_set.push_back(r);
      return true;
    }
    case value_type::bytes:
      if (t.kind != token_kind::string) return fail_found(t, "a string literal or '}'");
      node.bytes_set.push_back(t.value);
      return true;
    case value_type::ip: {
      if (t.kind != token_kind::ip) return fail_token(t);
      std::string expected;
      auto cidr = parse_ip_cidr(t.text, expected);
      if (!cidr) return fail(t.begin, expected);
      node.ip_set.push_back(*cidr);
      return true;
    }
    case value_type::boolean: break;
  }
  return fail(t.begin, "a set of integers, strings or IP addresses");
}

}  // namespace callsign::rules
