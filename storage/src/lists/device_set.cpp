#include "storage/lists/device_set.hpp"

#include <algorithm>

#include "storage/lists/line_reader.hpp"

namespace callsign::storage {

bool valid_device_serial(std::string_view serial) noexcept {
  if (serial.empty() || serial.size() > 128) return false;
  return std::all_of(serial.begin(), serial.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == ':' || c == '/' || c == '+' || c == '=' || c == '-';
  });
}

result<device_set> device_set::parse(std::string_view text) {
  device_set set;
  list_line_reader lines(text);
  std::string_view entry;
  std::size_t line = 0;
  while (lines.next(entry, line)) {
    if (!valid_device_serial(entry)) {
      return make_error(error_kind::invalid_input,
                        "line " + std::to_string(line) +
                            ": not a device serial (1-128 characters from A-Z a-z 0-9 . _ : / + = -)");
    }
    set.serials_.emplace_back(entry);
  }
  std::sort(set.serials_.begin(), set.serials_.end());
  set.serials_.erase(std::unique(set.serials_.begin(), set.serials_.end()), set.serials_.end());
  return set;
}

bool device_set::contains(std::string_view serial) const noexcept {
  const auto it = std::lower_bound(serials_.begin(), serials_.end(), serial,
                                   [](const std::string& a, std::string_view b) { return a < b; });
  return it != serials_.end() && *it == serial;
}

}  // namespace callsign::storage
