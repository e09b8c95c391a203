#include "resp_encoding.hpp"

#include <charconv>

namespace callsign::redis {

namespace {
void append_header(std::string& out, char type, std::size_t count) {
  char digits[24];
  const auto end = std::to_chars(digits, digits + sizeof digits, count).ptr;
  out.push_back(type);
  out.append(digits, end);
  out.append("\r\n");
}
}  // namespace

void append_command(std::string& out, const command& cmd) {
  std::size_t size = 16;
  for (const auto& arg : cmd) size += arg.size() + 16;
  out.reserve(out.size() + size);
  append_header(out, '*', cmd.size());
  for (const auto& arg : cmd) {
    append_header(out, '$', arg.size());
    out.append(arg);
    out.append("\r\n");
  }
}

std::string error_code(const reply& error) {
  const auto space = error.text.find(' ');
  std::string code = error.text.substr(0, space == std::string::npos ? error.text.size() : space);
  if (code.size() > 32) code.resize(32);
  return code;
}

}  // namespace callsign::redis
