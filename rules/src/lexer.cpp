#include "lexer.hpp"

#include <limits>

namespace callsign::rules {
namespace {

bool is_name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_name_char(char c) { return is_name_start(c) || is_digit(c) || c == '.'; }
bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
int hex_value(char c) {
  if (is_digit(c)) return c - '0';
  return (c | 0x20) - 'a' + 10;
}

token error_token(std::size_t begin, std::size_t at, std::string expected) {
  token t;
  t.kind = token_kind::error;
  t.begin = begin;
  t.end = at;
  t.error_at = at;
  t.value = std::move(expected);
  return t;
}

// "..." with \" \\ and \xHH escapes.
token quoted_string(std::string_view text, std::size_t begin) {
  token t;
  t.kind = token_kind::string;
  t.begin = begin;
  for (std::size_t i = begin + 1; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '"') {
      t.end = i + 1;
      t.text = text.substr(begin, t.end - begin);
      return t;
    }
    if (c != '\\') {
      t.value.push_back(c);
      continue;
    }
    if (i + 1 < text.size() && (text[i + 1] == '"' || text[i + 1] == '\\')) {
      t.value.push_back(text[++i]);
    } else if (i + 3 < text.size() && text[i + 1] == 'x' && is_hex(text[i + 2]) && is_hex(text[i + 3])) {
      t.value.push_back(static_cast<char>(hex_value(text[i + 2]) * 16 + hex_value(text[i + 3])));
      i += 3;
    } else {
      return error_token(begin, i, "an escape \\\", \\\\ or \\xHH after '\\'");
    }
  }
  return error_token(begin, begin, "a closing '\"' for this string");
}

// r"..." or r#"..."# (any number of #, up to 255): no escapes.
token raw_string(std::string_view text, std::size_t begin) {
  std::size_t i = begin + 1;
  std::size_t hashes = 0;
  while (i < text.size() && text[i] == '#') ++i, ++hashes;
  if (hashes > 255 || i >= text.size() || text[i] != '"') return error_token(begin, i, "'\"' to open a raw string");
  std::string closing(1, '"');  // appended, not "\"" + string: GCC 12 -O3 -Wrestrict false positive
  closing.append(hashes, '#');
  const std::size_t close = text.find(closing, i + 1);
  if (close == std::string_view::npos) {
    std::string expected = "a closing '";
    expected.append(closing).append("' for this raw string");
    return error_token(begin, begin, std::move(expected));
  }
  token t;
  t.kind = token_kind::string;
  t.begin = begin;
  t.end = close + closing.size();
  t.text = text.substr(begin, t.end - begin);
  t.value = std::string(text.substr(i + 1, close - i - 1));
  return t;
}

token integer(std::string_view text, std::size_t begin) {
  std::size_t i = begin;
  const bool negative = text[i] == '-';
  if (negative) ++i;
  if (i >= text.size() || !is_digit(text[i])) return error_token(begin, i, "a digit after '-'");
  // Accumulate negatively so INT64_MIN is representable.
  std::int64_t value = 0;
  constexpr std::int64_t min = std::numeric_limits<std::int64_t>::min();
  for (; i < text.size() && is_digit(text[i]); ++i) {
    const int d = text[i] - '0';
    if (value < (min + d) / 10) return error_token(begin, begin, "an integer that fits in 64 bits");
    value = value * 10 - d;
  }
  if (!negative) {
    if (value == min) return error_token(begin, begin, "an integer that fits in 64 bits");
    value = -value;
  }
  token t;
  t.kind = token_kind::integer;
  t.begin = begin;
  t.end = i;
  t.text = text.substr(begin, i - begin);
  t.number = value;
  return t;
}

token punct(std::string_view text, std::size_t begin, token_kind kind, std::size_t length) {
  token t;
  t.kind = kind;
  t.begin = begin;
  t.end = begin + length;
  t.text = text.substr(begin, length);
  return t;
}

}  // namespace

std::size_t skip_blanks(std::string_view text, std::size_t pos) noexcept {
  while (pos < text.size() && (text[pos] == ' ' || text[pos] == '\t' || text[pos] == '\n' || text[pos] == '\r')) {
    ++pos;
  }
  return pos;
}

token next_token(std::string_view text, std::size_t pos) {
  const std::size_t i = skip_blanks(text, pos);
  if (i >= text.size()) return punct(text, text.size(), token_kind::end, 0);
  const char c = text[i];
  const char n = i + 1 < text.size() ? text[i + 1] : '\0';
  if (c == 'r' && (n == '"' || n == '#')) return raw_string(text, i);
  if (is_name_start(c)) {
    std::size_t e = i;
    while (e < text.size() && is_name_char(text[e])) ++e;
    return punct(text, i, token_kind::name, e - i);
  }
  if (is_digit(c) || (c == '-' && is_digit(n))) return integer(text, i);
  if (c == '"') return quoted_string(text, i);
  if (c == '$') {
    std::size_t e = i + 1;
    while (e < text.size() && ((text[e] >= 'a' && text[e] <= 'z') || is_digit(text[e]) || text[e] == '_' ||
                               text[e] == '.')) {
      ++e;
    }
    if (e == i + 1) return error_token(i, i, "a list name after '$'");
    token t = punct(text, i, token_kind::list_ref, e - i);
    t.value = std::string(text.substr(i + 1, e - i - 1));
    return t;
  }
  switch (c) {
    case '(': return punct(text, i, token_kind::lparen, 1);
    case ')': return punct(text, i, token_kind::rparen, 1);
    case '{': return punct(text, i, token_kind::lbrace, 1);
    case '}': return punct(text, i, token_kind::rbrace, 1);
    case '[': return punct(text, i, token_kind::lbracket, 1);
    case ']': return punct(text, i, token_kind::rbracket, 1);
    case ',': return punct(text, i, token_kind::comma, 1);
    case '~': return punct(text, i, token_kind::tilde, 1);
    case '.':
      if (n == '.') return punct(text, i, token_kind::dot_dot, 2);
      break;
    case '=':
      if (n == '=') return punct(text, i, token_kind::eq, 2);
      break;
    case '!': return n == '=' ? punct(text, i, token_kind::ne, 2) : punct(text, i, token_kind::not_op, 1);
    case '<': return n == '=' ? punct(text, i, token_kind::le, 2) : punct(text, i, token_kind::lt, 1);
    case '>': return n == '=' ? punct(text, i, token_kind::ge, 2) : punct(text, i, token_kind::gt, 1);
    case '&':
      if (n == '&') return punct(text, i, token_kind::and_op, 2);
      break;
    case '|':
      if (n == '|') return punct(text, i, token_kind::or_op, 2);
      break;
    case '^':
      if (n == '^') return punct(text, i, token_kind::xor_op, 2);
      break;
    default: break;
  }
  return error_token(i, i, "a field, function, operator, value or '(' here");
}

token next_ip_token(std::string_view text, std::size_t pos) {
  const std::size_t i = skip_blanks(text, pos);
  std::size_t e = i;
  while (e < text.size() && (is_hex(text[e]) || text[e] == ':' || text[e] == '.')) ++e;
  if (e == i) return error_token(i, i, "an IP address or CIDR");
  if (e < text.size() && text[e] == '/') {
    ++e;
    while (e < text.size() && is_digit(text[e])) ++e;
  }
  return punct(text, i, token_kind::ip, e - i);
}

}  // namespace callsign::rules
