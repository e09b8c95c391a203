// The language's fields: name, type and where they may appear (docs/rules.md, "Fields").
#pragma once

#include <optional>
#include <string_view>

#include "rules/request_fields.hpp"

namespace callsign::rules {

enum class value_type : std::uint8_t { boolean, integer, bytes, ip };

// Which expressions may read a field: [[rule]] expressions, rate-limit counting expressions.
enum class expression_context : std::uint8_t { rule, rate_limit };

struct field_info {
  field id;
  std::string_view name;
  value_type type;
  bool in_rules;       // allowed in a [[rule]] expression
  bool in_rate_limit;  // allowed in a [[rate_limit]] counting expression
};

const field_info& info_of(field f) noexcept;
std::optional<field> field_by_name(std::string_view name) noexcept;
// "an integer", "a string", "an IP address", "a boolean": for error messages.
std::string_view type_phrase(value_type t) noexcept;

}  // namespace callsign::rules
