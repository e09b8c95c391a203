// The open-proxy list parser (FireHOL ipset/netset, raw ip:port, [v6]:port, CIDR) on arbitrary
// text. Invariants: a rejected file names a line number and never echoes the input; an accepted
// file's set contains every single address listed on its lines (the first address of each
// parsed entry), and an entry parsed on its own agrees with the whole-file parse.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz/fuzz_check.hpp"
#include "storage/lists/ip_set_parser.hpp"

using namespace callsign;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = storage::parse_ip_set(text);
  if (!parsed) {
    FUZZ_CHECK(parsed.error().kind == error_kind::invalid_input);
    FUZZ_CHECK(parsed.error().message.find("line ") != std::string::npos);
    FUZZ_CHECK(size < 12 || parsed.error().message.find(text) == std::string::npos);
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
