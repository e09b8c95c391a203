#include "jwt_json.hpp"

#include <simdjson.h>

#include <array>
#include <cmath>
#include <limits>

namespace callsign::server::auth_detail {
namespace {

namespace dom = simdjson::dom;

// Parses into `parser`; the object stays valid as long as the parser does.
std::optional<dom::object> parse_object(dom::parser& parser, std::string_view json) {
  dom::element root;
  if (parser.parse(json.data(), json.size(), true).get(root) != simdjson::SUCCESS) return std::nullopt;
  dom::object object;
  if (root.get_object().get(object) != simdjson::SUCCESS) return std::nullopt;
  return object;
}

std::optional<std::string> string_of(dom::element value) {
  std::string_view text;
  if (value.get_string().get(text) != simdjson::SUCCESS) return std::nullopt;
  return std::string(text);
}

// NumericDate: any JSON number; out-of-range values saturate, which can only make a token
// expire sooner (exp) or become valid later (nbf) than a careful issuer meant.
std::optional<std::int64_t> numeric_date_of(dom::element value) {
  constexpr auto max = std::numeric_limits<std::int64_t>::max();
  constexpr auto min = std::numeric_limits<std::int64_t>::min();
  switch (value.type()) {
    case dom::element_type::INT64:
      return value.get_int64().value_unsafe();
    case dom::element_type::UINT64:
      return max;  // only values above INT64_MAX are typed UINT64
    case dom::element_type::DOUBLE: {
      const double number = value.get_double().value_unsafe();
      if (!std::isfinite(number)) return std::nullopt;
      if (number >= 9.2e18) return max;
      if (number <= -9.2e18) return min;
      return static_cast<std::int64_t>(std::floor(number));
    }
    default:
      return std::nullopt;
  }
}

// Counts members by name so a repeated one can be refused.
template <std::size_t N>
bool repeats_any(dom::object object, const std::array<std::string_view, N>& names) {
  std::array<int, N> seen{};
  for (const auto field : object) {
    for (std::size_t i = 0; i < N; ++i) {
      if (field.key == names[i] && ++seen[i] > 1) return true;
    }
  }
  return false;
}

}  // namespace

std::optional<jose_header> parse_jose_header(std::string_view json) {
  dom::parser parser;
  const auto object = parse_object(parser, json);
  if (!object || repeats_any(*object, std::array<std::string_view, 3>{"alg", "typ", "crit"})) return std::nullopt;
  jose_header header;
  bool has_alg = false;
  for (const auto field : *object) {
    if (field.key == "alg") {
      auto alg = string_of(field.value);
      if (!alg) return std::nullopt;
      header.alg = std::move(*alg);
      has_alg = true;
    } else if (field.key == "typ") {
      auto typ = string_of(field.value);
      // libjwt refuses any other typ too; saying so here keeps both readers in agreement.
      if (!typ || typ->size() != 3 || (((*typ)[0] | 0x20) != 'j') || (((*typ)[1] | 0x20) != 'w') ||
          (((*typ)[2] | 0x20) != 't')) {
        return std::nullopt;
      }
    } else if (field.key == "crit") {
      return std::nullopt;
    }
  }
  if (!has_alg) return std::nullopt;
  return header;
}

std::optional<jwt_claims> parse_jwt_claims(std::string_view json) {
  dom::parser parser;
  const auto object = parse_object(parser, json);
  if (!object || repeats_any(*object, std::array<std::string_view, 6>{"exp", "nbf", "iss", "sub", "role", "aud"})) {
    return std::nullopt;
  }
  jwt_claims claims;
  for (const auto field : *object) {
    if (field.key == "exp" || field.key == "nbf") {
      const auto date = numeric_date_of(field.value);
      if (!date) return std::nullopt;
      (field.key == "exp" ? claims.exp : claims.nbf) = *date;
    } else if (field.key == "iss" || field.key == "sub" || field.key == "role") {
      auto text = string_of(field.value);
      if (!text) return std::nullopt;
      (field.key == "iss" ? claims.iss : field.key == "sub" ? claims.sub : claims.role) = std::move(text);
    } else if (field.key == "aud") {
      if (auto single = string_of(field.value)) {
        claims.aud.push_back(std::move(*single));
        continue;
      }
      dom::array list;
      if (field.value.get_array().get(list) != simdjson::SUCCESS) return std::nullopt;
      for (const dom::element item : list) {
        auto text = string_of(item);
        if (!text) return std::nullopt;
        claims.aud.push_back(std::move(*text));
      }
    }
  }
  return claims;
}

}  // namespace callsign::server::auth_detail
