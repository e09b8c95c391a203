#include "toml_positions.hpp"

#include <cstdint>
#include <string>

namespace callsign::rules {
namespace {

bool continuation(char c) { return (static_cast<unsigned char>(c) & 0xC0U) == 0x80U; }

// Walks raw bytes, keeping the file position of the next byte.
struct cursor {
  std::string_view text;
  std::size_t i = 0;
  file_position pos;

  bool done() const { return i >= text.size(); }
  char peek(std::size_t ahead = 0) const { return i + ahead < text.size() ? text[i + ahead] : '\0'; }
  void advance() {
    if (text[i] == '\n') {
      ++pos.line;
      pos.column = 1;
    } else if (!continuation(text[i])) {
      ++pos.column;
    }
    ++i;
  }
};

void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// The bytes one basic-string escape at c.i decodes to; advances past it. Empty on a bad one.
std::string escape(cursor& c) {
  c.advance();  // '\'
  const char e = c.peek();
  std::string out;
  const auto simple = [&](char v) {
    c.advance();
    out.push_back(v);
  };
  switch (e) {
    case 'b': simple('\b'); break;
    case 't': simple('\t'); break;
    case 'n': simple('\n'); break;
    case 'f': simple('\f'); break;
    case 'r': simple('\r'); break;
    case 'e': simple('\x1B'); break;
    case '"': simple('"'); break;
    case '\\': simple('\\'); break;
    case 'u':
    case 'U': {
      const int digits = e == 'u' ? 4 : 8;
      c.advance();
      std::uint32_t cp = 0;
      for (int k = 0; k < digits; ++k) {
        const char h = c.peek();
        std::uint32_t d = 0;
        if (h >= '0' && h <= '9') d = static_cast<std::uint32_t>(h - '0');
        else if (h >= 'a' && h <= 'f') d = static_cast<std::uint32_t>(h - 'a' + 10);
        else if (h >= 'A' && h <= 'F') d = static_cast<std::uint32_t>(h - 'A' + 10);
        else return {};
        cp = cp * 16 + d;
        c.advance();
      }
      if (cp > 0x10FFFF) return {};
      append_utf8(out, cp);
      break;
    }
    default: break;
  }
  return out;
}

}  // namespace

file_position position_in_text(std::string_view text, std::size_t offset) {
  cursor c{text, 0, {1, 1}};
  while (!c.done() && c.i < offset) c.advance();
  return c.pos;
}

file_position position_in_string(std::string_view file, file_position start, std::string_view decoded,
                                 std::size_t offset) {
  if (start.line < 1 || start.column < 1) return start;
  cursor c{file, 0, {1, 1}};
  while (!c.done() && c.pos.line < start.line) c.advance();
  while (!c.done() && c.pos.column < start.column && c.peek() != '\n') c.advance();
  if (c.pos.line != start.line || c.pos.column != start.column) return start;
  const char quote = c.peek();
  if (quote != '"' && quote != '\'') return start;
  const bool multi_line = c.peek(1) == quote && c.peek(2) == quote;
  const bool basic = quote == '"';
  for (int k = 0; k < (multi_line ? 3 : 1); ++k) c.advance();
  if (multi_line) {  // a newline right after the opening delimiter is not part of the value
    if (c.peek() == '\n') c.advance();
    else if (c.peek() == '\r' && c.peek(1) == '\n') c.advance(), c.advance();
  }
  std::size_t produced = 0;
  while (produced < offset && produced < decoded.size() && !c.done()) {
    const char r = c.peek();
    if (basic && r == '\\') {
      if (multi_line) {  // line-ending backslash: skip blanks and newlines
        std::size_t k = 1;
        while (c.peek(k) == ' ' || c.peek(k) == '\t') ++k;
        if (c.peek(k) == '\n' || (c.peek(k) == '\r' && c.peek(k + 1) == '\n')) {
          c.advance();
          while (c.peek() == ' ' || c.peek() == '\t' || c.peek() == '\n' || c.peek() == '\r') c.advance();
          continue;
        }
      }
      const file_position at = c.pos;
      const std::string bytes = escape(c);
      if (bytes.empty() || decoded.substr(produced, bytes.size()) != bytes) return start;
      if (offset < produced + bytes.size()) return at;
      produced += bytes.size();
      continue;
    }
    if (r == '\r' && decoded[produced] != '\r') {  // CRLF read as LF
      c.advance();
      continue;
    }
    if (r != decoded[produced]) return start;
    c.advance();
    ++produced;
  }
  return produced == offset ? c.pos : start;
}

}  // namespace callsign::rules
