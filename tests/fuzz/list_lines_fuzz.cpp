// The line formats of the breach inputs and the device list on arbitrary bytes: user:password
// lines, CSV records, HIBP "SHA1HEX:COUNT" lines and device serial files. Invariants: errors
// never echo the input (these lines hold passwords); a pair splits at the first colon and
// rebuilds the line; a CSV record without quotes splits exactly at its commas; an accepted HIBP
// line starts with 40 hex digits that give the returned bytes; an accepted device file
// contains every line's text before '#', trimmed.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/hex.hpp"
#include "fuzz/fuzz_check.hpp"
#include "storage/lists/breach_input.hpp"
#include "storage/lists/device_set.hpp"

using namespace callsign;

namespace {
// The fixed texts of every error these parsers give, taken from the parsers themselves with
// inputs that reach each branch. An error echoes its input when the message contains the
// input but none of the fixed texts does (an input may be spelled like part of a fixed text).
const std::vector<std::string>& fixed_messages() {
  static const std::vector<std::string> texts = [] {
    std::vector<std::string> out;
    std::vector<std::string> fields;
    const std::string hex40(40, 'a');
    for (auto e : {storage::split_pair_line("no colon").error(), storage::split_csv_line("\"a\"b", fields).error(),
                   storage::split_csv_line("\"open", fields).error(), storage::parse_hibp_line("x").error(),
                   storage::parse_hibp_line(hex40 + ":x").error(),
                   storage::parse_hibp_line(std::string(39, 'a') + "g:1").error(),
                   storage::device_set::parse("!").error()}) {
      out.push_back(e.message);
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
  const std::string_view line = storage::strip_line_ending(text);
  FUZZ_CHECK(text.starts_with(line));

  auto pair = storage::split_pair_line(line);
  if (pair) {
    FUZZ_CHECK(pair->username.find(':') == std::string_view::npos);
    FUZZ_CHECK(std::string(pair->username) + ":" + std::string(pair->password) == line);
  } else {
    FUZZ_CHECK(!echoes(pair.error(), line));
  }

  std::vector<std::string> fields;
  auto csv = storage::split_csv_line(line, fields);
  if (!csv) {
    FUZZ_CHECK(!echoes(csv.error(), line));
  } else if (line.find('"') == std::string_view::npos) {
    FUZZ_CHECK(fields.size() == static_cast<std::size_t>(std::count(line.begin(), line.end(), ',')) + 1);
    std::string joined;
    for (std::size_t i = 0; i < fields.size(); ++i) joined += (i ? "," : "") + fields[i];
    FUZZ_CHECK(joined == line);
  }

  auto hibp = storage::parse_hibp_line(line);
  if (hibp) {
    FUZZ_CHECK(line.size() > 41 && line[40] == ':');
    for (std::size_t i = 0; i < hibp->size(); ++i) {
      const int hi = crypto::hex_digit_value(line[2 * i]);
      const int lo = crypto::hex_digit_value(line[2 * i + 1]);
      FUZZ_CHECK(hi >= 0 && lo >= 0 && (*hibp)[i] == static_cast<std::uint8_t>(hi * 16 + lo));
    }
  } else {
    FUZZ_CHECK(!echoes(hibp.error(), line));
  }

  auto devices = storage::device_set::parse(text);
  if (!devices) {
    FUZZ_CHECK(!echoes(devices.error(), text));
  } else {
    std::size_t start = 0;
    while (start < text.size()) {
      std::size_t end = text.find('\n', start);
      if (end == std::string_view::npos) end = text.size();
      std::string_view serial = text.substr(start, end - start);
      serial = serial.substr(0, serial.find('#'));  // comments run to the end of the line
      const std::string_view blanks = " \t\r\f\v";
      while (!serial.empty() && blanks.find(serial.front()) != std::string_view::npos) serial.remove_prefix(1);
      while (!serial.empty() && blanks.find(serial.back()) != std::string_view::npos) serial.remove_suffix(1);
      if (!serial.empty()) FUZZ_CHECK(devices->contains(serial));
      start = end + 1;
    }
  }
  return 0;
}
