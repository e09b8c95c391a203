// The open-proxy list parser (FireHOL ipset/netset, raw ip:port, [v6]:port, CIDR) on arbitrary
// text. Invariants: a rejected file names a line number and never echoes the input; an accepted
// file's set contains every single address listed on its lines (the first address of each
// parsed entry), and an entry parsed on its own agrees with the whole-file parse.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/fuzz_check.hpp"
#include "storage/lists/ip_set_parser.hpp"

using namespace callsign;

namespace {
// The parser's fixed texts, from inputs that reach each of its errors. An error echoes its
// input when the message contains the input but none of these does (an input may be spelled
// like part of a fixed text).
const std::vector<std::string>& fixed_messages() {
  static const std::vector<std::string> texts = [] {
    std::vector<std::string> out;
    for (std::string_view bad : {"[2001:db8::1", "[2001:db8::1]:x", "192.0.2.1:x", "nonsense", "10.0.0.0/33",
                                 "::ffff:1.2.3.4/95"}) {
      auto parsed = storage::parse_ip_set(bad);
      FUZZ_CHECK(!parsed);
      out.push_back(parsed.error().message);
    }
    return out;
  }();
  return texts;
}

bool echoes(const error& e, std::string_view input) {
  if (input.size() < 12 || e.message.find(input) == std::string::npos) return false;
  for (const auto& text : fixed_messages()) {
    if (text.find(input) != std::string::npos) return false;
  }
  return true;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = storage::parse_ip_set(text);
  if (!parsed) {
    FUZZ_CHECK(parsed.error().kind == error_kind::invalid_input);
    FUZZ_CHECK(parsed.error().message.find("line ") != std::string::npos);
    FUZZ_CHECK(!echoes(parsed.error(), text));
    return 0;
  }
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    auto entry = storage::parse_ip_set_entry(line);
    if (entry) {
      // The prefix's own (masked) address is inside the set built from the file.
      FUZZ_CHECK(parsed->contains(entry->address));
    }
    start = end + 1;
  }
  return 0;
}
