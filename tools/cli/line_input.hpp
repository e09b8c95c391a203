// Streams a text file (or stdin for "-") line by line into one reused buffer that is wiped
// when the reader is destroyed: breach inputs hold passwords.
#pragma once

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string_view>

#include "crypto/result.hpp"

namespace callsign::cli {

// Not thread-safe.
class line_input {
 public:
  static result<line_input> open(const std::filesystem::path& path);
  line_input(line_input&& other) noexcept;
  line_input& operator=(line_input&&) = delete;
  line_input(const line_input&) = delete;
  line_input& operator=(const line_input&) = delete;
  ~line_input();

  // The next line including its line ending; false at end of input. `line` stays valid until
  // the next call.
  bool next(std::string_view& line);
  bool failed() const;  // a read error (not end of file) stopped next()

  std::uint64_t bytes_read() const noexcept { return bytes_; }
  std::uint64_t total_bytes() const noexcept { return total_; }  // 0 for pipes

 private:
  line_input(std::FILE* file, bool owned, std::uint64_t total) noexcept;
  std::FILE* file_ = nullptr;
  bool owned_ = false;
  char* buffer_ = nullptr;
  std::size_t capacity_ = 0;
  std::uint64_t bytes_ = 0;
  std::uint64_t total_ = 0;
};

}  // namespace callsign::cli
