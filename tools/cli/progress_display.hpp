// Progress of a long streaming command on stderr: redrawn in place a few times a second when
// stderr is a terminal, otherwise one line every 10 seconds (logs stay readable). Shows counts
// and bytes only, never input content.
#pragma once

#include <chrono>
#include <cstdint>
#include <string_view>

namespace callsign::cli {

// Not thread-safe.
class progress_display {
 public:
  progress_display(std::string_view what, std::uint64_t total_bytes);  // total 0 = unknown
  // Cheap when called per line: only looks at the clock every 4096 calls.
  void update(std::uint64_t lines, std::uint64_t bytes);
  void finish(std::uint64_t lines, std::uint64_t bytes);

 private:
  void draw(std::uint64_t lines, std::uint64_t bytes, bool final);

  std::string_view what_;
  std::uint64_t total_bytes_;
  bool tty_;
  std::uint64_t calls_ = 0;
  std::chrono::steady_clock::time_point started_;
  std::chrono::steady_clock::time_point last_;
};

}  // namespace callsign::cli
