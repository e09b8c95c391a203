#include "progress_display.hpp"

#include <unistd.h>

#include <cstdio>

namespace callsign::cli {

progress_display::progress_display(std::string_view what, std::uint64_t total_bytes)
    : what_(what),
      total_bytes_(total_bytes),
      tty_(::isatty(STDERR_FILENO) == 1),
      started_(std::chrono::steady_clock::now()),
      last_(started_) {}

void progress_display::update(std::uint64_t lines, std::uint64_t bytes) {
  if (++calls_ % 4096 != 0) return;
  const auto now = std::chrono::steady_clock::now();
  if (now - last_ < (tty_ ? std::chrono::milliseconds(250) : std::chrono::milliseconds(10'000))) return;
  last_ = now;
  draw(lines, bytes, false);
}

void progress_display::finish(std::uint64_t lines, std::uint64_t bytes) {
  draw(lines, bytes, true);
}

void progress_display::draw(std::uint64_t lines, std::uint64_t bytes, bool final) {
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  const double mb = static_cast<double>(bytes) / 1e6;
  char percent[16] = "";
  if (total_bytes_ > 0) {
    std::snprintf(percent, sizeof percent, " %5.1f%%", 100.0 * static_cast<double>(bytes) / static_cast<double>(total_bytes_));
  }
  std::fprintf(stderr, "%s%.*s: %llu lines, %.1f MB%s, %.0f s%s", tty_ ? "\r" : "", static_cast<int>(what_.size()),
               what_.data(), static_cast<unsigned long long>(lines), mb, percent, seconds,
               tty_ && !final ? "" : "\n");
  std::fflush(stderr);
}

}  // namespace callsign::cli
