// The query-string reader on arbitrary text (first byte even) and on queries written from
// (name, value) pairs drawn from the input (first byte odd).
// Invariants: a written query reads back the first value of each name whatever the value's
// bytes; numbers within bounds come back as written, others are refused; query_only accepts
// exactly the queries whose names are all listed.
#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "crypto/hex.hpp"
#include "fuzz/fuzz_check.hpp"
#include "server/http/query_string.hpp"

using namespace callsign;
using namespace callsign::server;

namespace {
constexpr std::string_view names[] = {"email", "user", "after", "limit", "x"};

// Encodes every byte outside [A-Za-z0-9] as %XX, sometimes a space as '+', lower or upper hex.
std::string encode(std::string_view value, FuzzedDataProvider& in) {
  const auto letters = in.ConsumeBool() ? crypto::hex_case::lower : crypto::hex_case::upper;
  std::string out;
  for (char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
      out.push_back(c);
    } else if (c == ' ' && in.ConsumeBool()) {
      out.push_back('+');
    } else {
      out += '%';
      crypto::append_hex_byte(out, u, letters);
    }
  }
  return out;
}

void arbitrary(std::string_view query) {
  for (auto name : names) {
    const auto value = query_param(query, name);
    const auto number = query_uint(query, name, 1, 500);
    FUZZ_CHECK(value.has_value() || !number.has_value());
    if (number && *number) FUZZ_CHECK(**number >= 1 && **number <= 500);
    if (value && *value && number) FUZZ_CHECK(number->has_value());
  }
  if (query_only(query, {"email", "user", "after", "limit", "x"})) {
    FUZZ_CHECK(query_only(query, {"email", "user", "after", "limit", "x", "y"}).has_value());
  }
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  if ((data[0] & 1U) == 0) {
    arbitrary(std::string_view(reinterpret_cast<const char*>(data + 1), size - 1));
    return 0;
  }
  FuzzedDataProvider in(data + 1, size - 1);
  std::map<std::string_view, std::string> first;
  std::map<std::string_view, int> seen;  // a repeated name is refused (issue 16)
  std::string query;
  bool unlisted = false;
  const int pairs = in.ConsumeIntegralInRange(0, 8);
  for (int i = 0; i < pairs; ++i) {
    const bool odd_name = in.ConsumeIntegralInRange(0, 9) == 0;
    const std::string_view name = odd_name ? "zz" : in.PickValueInArray(names);
    unlisted = unlisted || odd_name;
    const std::string value =
        in.ConsumeBool() ? std::to_string(in.ConsumeIntegral<std::uint64_t>()) : in.ConsumeRandomLengthString(64);
    if (!query.empty() || in.ConsumeBool()) query += '&';  // a leading or doubled '&' is harmless
    query += name;
    query += '=';
    query += encode(value, in);
    first.emplace(name, value);
    ++seen[name];
  }
  for (auto name : names) {
    const auto read = query_param(query, name);
    const auto expected = first.find(name);
    const bool refused = seen[name] > 1 || (expected != first.end() && expected->second.find('\0') != std::string::npos);
    FUZZ_CHECK(read.has_value() == !refused);
    if (refused) {
      FUZZ_CHECK(!query_uint(query, name, 1, 500).has_value());
      continue;
    }
    FUZZ_CHECK(read->has_value() == (expected != first.end()));
    if (expected == first.end()) continue;
    FUZZ_CHECK(**read == expected->second);
    const auto number = query_uint(query, name, 1, 500);
    const std::string& text = expected->second;
    const bool digits = !text.empty() && text.find_first_not_of("0123456789") == std::string::npos;
    const std::string significant = digits ? text.substr(std::min(text.find_first_not_of('0'), text.size())) : "";
    const std::uint64_t n = digits && significant.size() <= 3 ? std::stoull("0" + significant) : 0;
    const bool in_range = n >= 1 && n <= 500;
    FUZZ_CHECK(number.has_value() == in_range);
    if (in_range) FUZZ_CHECK(**number == n);
  }
  FUZZ_CHECK(query_only(query, {"email", "user", "after", "limit", "x"}).has_value() == !unlisted);
  arbitrary(query);
  return 0;
}
