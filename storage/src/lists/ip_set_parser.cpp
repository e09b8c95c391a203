#include "storage/lists/ip_set_parser.hpp"

#include <charconv>
#include <string>
#include <vector>

#include "storage/lists/line_reader.hpp"

namespace callsign::storage {
namespace {

bool parse_number(std::string_view digits, unsigned max, unsigned& out) {
  if (digits.empty() || digits.size() > 5) return false;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), out);
  return ec == std::errc() && end == digits.data() + digits.size() && out <= max;
}

error bad_entry(std::string_view what) {
  return make_error(error_kind::invalid_input, std::string(what));
}

}  // namespace

result<ip_prefix> parse_ip_set_entry(std::string_view entry) {
  std::string_view address = entry;
  std::string_view length_text;
  bool has_length = false;
  if (!address.empty() && address.front() == '[') {  // "[v6]" or "[v6]:port"
    const auto close = address.find(']');
    if (close == std::string_view::npos) return bad_entry("unclosed '[' in an IPv6 address");
    const std::string_view after = address.substr(close + 1);
    unsigned port = 0;
    if (!after.empty() && (after.front() != ':' || !parse_number(after.substr(1), 65535, port))) {
      return bad_entry("bad port after an IPv6 address");
    }
    address = address.substr(1, close - 1);
  } else if (const auto slash = address.find('/'); slash != std::string_view::npos) {
    length_text = address.substr(slash + 1);
    address = address.substr(0, slash);
    has_length = true;
  } else if (const auto colon = address.find(':');
             colon != std::string_view::npos && address.find(':', colon + 1) == std::string_view::npos) {
    // Exactly one colon: IPv4 "ip:port" (an IPv6 address always has at least two).
    unsigned port = 0;
    if (!parse_number(address.substr(colon + 1), 65535, port)) return bad_entry("bad port after an IPv4 address");
    address = address.substr(0, colon);
  }
  auto parsed = parse_ip_address(address);
  if (!parsed) return bad_entry("not an IPv4/IPv6 address, CIDR or ip:port");
  ip_prefix prefix{*parsed, parsed->v6 ? 128U : 32U};
  if (has_length) {
    // A mapped IPv4 address takes an IPv6 length; convert it to its IPv4 length.
    const bool mapped = !parsed->v6 && address.find(':') != std::string_view::npos;
    const unsigned max = parsed->v6 || mapped ? 128U : 32U;
    unsigned length = 0;
    if (!parse_number(length_text, max, length)) return bad_entry("bad prefix length");
    if (mapped) {
      if (length < 96) return bad_entry("bad prefix length");
      length -= 96;
    }
    prefix.length = length;
  }
  return prefix;
}

result<ip_set> parse_ip_set(std::string_view text) {
  std::vector<ip_prefix> prefixes;
  list_line_reader lines(text);
  std::string_view entry;
  std::size_t line = 0;
  while (lines.next(entry, line)) {
    auto prefix = parse_ip_set_entry(entry);
    if (!prefix) {
      return make_error(error_kind::invalid_input, "line " + std::to_string(line) + ": " + prefix.error().message);
    }
    prefixes.push_back(*prefix);
  }
  return ip_set::build(prefixes);
}

}  // namespace callsign::storage
