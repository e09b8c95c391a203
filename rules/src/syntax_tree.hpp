// The parse tree of one expression, typed as it is parsed (literals are scanned by the type
// their left side wants). The compiler flattens it (compiler.cpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "field_table.hpp"
#include "ip_literal.hpp"

namespace callsign::rules {

enum class value_kind : std::uint8_t { field, header, lower, len, starts_with, ends_with };

// A field, header or function call: the left side of a comparison, or a bare boolean.
struct value_node {
  value_kind kind = value_kind::field;
  value_type type = value_type::bytes;
  field source = field::ip_src;      // field, header
  std::string literal;               // header: the lower-cased name; starts_with/ends_with: the affix
  std::unique_ptr<value_node> arg;   // lower, len, starts_with, ends_with
  std::size_t begin = 0, end = 0;    // offsets in the expression (field checks name the field)
};

enum class node_kind : std::uint8_t {
  all_of, any_of, parity, negate,  // and, or, xor (n-ary), not
  truth,                           // a boolean value alone
  compare, contains, matches, in_set, in_list,
};
enum class compare_op : std::uint8_t { eq, ne, lt, le, gt, ge };

struct int_range {
  std::int64_t lo, hi;
};

struct expr_node {
  node_kind kind = node_kind::truth;
  std::size_t begin = 0;
  std::vector<std::unique_ptr<expr_node>> children;  // all_of, any_of, parity, negate
  std::unique_ptr<value_node> value;                 // the left side
  compare_op op = compare_op::eq;
  // The right side, by the left side's type:
  std::int64_t number = 0;               // integer, boolean (0/1)
  std::string bytes;                     // string literal, regex, list name
  ip_cidr ip{};                          // ip eq/ne
  std::vector<int_range> int_set;        // in {...}
  std::vector<std::string> bytes_set;
  std::vector<ip_cidr> ip_set;
  std::size_t rhs_begin = 0;             // where the right side starts (regex and list errors)
};

}  // namespace callsign::rules
