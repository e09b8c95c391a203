// Tokens of the expression language. The parser asks for one token at a time at an offset;
// IP literals are scanned only where the parser expects one (after `ip.src eq`, inside an IP
// set), so `10.0.0.0/8` and `fe80::1` never clash with integers and names.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace callsign::rules {

enum class token_kind : std::uint8_t {
  end, name, string, integer, ip, list_ref, dot_dot,
  lparen, rparen, lbrace, rbrace, lbracket, rbracket, comma,
  eq, ne, lt, le, gt, ge, and_op, or_op, xor_op, not_op, tilde,
  error,
};

struct token {
  token_kind kind = token_kind::end;
  std::size_t begin = 0;  // byte offsets into the expression
  std::size_t end = 0;
  std::string_view text;  // the raw token text
  std::string value;      // string: the decoded bytes; list_ref: the name; error: what was expected
  std::int64_t number = 0;
  std::size_t error_at = 0;  // error: where the problem is
};

// The token starting at or after `pos` (blanks skipped).
token next_token(std::string_view text, std::size_t pos);
// An IP address or CIDR literal at or after `pos`: the longest run of hex digits, ':' and '.',
// then an optional "/digits". Kind ip, or error when there is none.
token next_ip_token(std::string_view text, std::size_t pos);
std::size_t skip_blanks(std::string_view text, std::size_t pos) noexcept;

}  // namespace callsign::rules
