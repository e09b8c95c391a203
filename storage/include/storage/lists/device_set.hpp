// Managed device serial numbers, one per line ('#' comments and blank lines allowed). A serial
// is 1-128 characters from A-Z a-z 0-9 . _ : / + = -, matched exactly (case-sensitive).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/result.hpp"

namespace callsign::storage {

bool valid_device_serial(std::string_view serial) noexcept;

// Thread safety: immutable after parse(); contains() may be called concurrently.
class device_set {
 public:
  device_set() = default;

  // A bad line rejects the whole file; the error names its line number, never its content.
  static result<device_set> parse(std::string_view text);

  bool contains(std::string_view serial) const noexcept;
  std::size_t entries() const noexcept { return serials_.size(); }

 private:
  std::vector<std::string> serials_;  // sorted, unique
};

}  // namespace callsign::storage
