// Shared by the list benchmarks: thread CPU time (a loaded machine skews neither side of a
// ratio) and the process's resident set size.
#pragma once

#include <time.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace callsign::bench {

inline double thread_cpu_seconds() {
  timespec now{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) * 1e-9;
}

inline double wall_seconds() {
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) * 1e-9;
}

// A field ("VmRSS:", "RssAnon:", "RssFile:") of /proc/self/status, in KiB; 0 if unreadable.
inline std::uint64_t status_kib(const char* field) {
  std::FILE* f = std::fopen("/proc/self/status", "r");
  if (f == nullptr) return 0;
  char line[256];
  std::uint64_t kib = 0;
  while (std::fgets(line, sizeof line, f) != nullptr) {
    if (std::strncmp(line, field, std::strlen(field)) == 0) {
      kib = std::strtoull(line + std::strlen(field), nullptr, 10);
      break;
    }
  }
  std::fclose(f);
  return kib;
}

inline std::uint64_t rss_kib() { return status_kib("VmRSS:"); }

// Calls `batch()` (which does `per_batch` lookups) until `seconds` of thread CPU time pass;
// returns lookups per CPU second.
template <class Batch>
double per_cpu_second(double seconds, std::uint64_t per_batch, Batch&& batch) {
  batch();  // warm
  const double start = thread_cpu_seconds();
  std::uint64_t done = 0;
  double elapsed = 0;
  do {
    batch();
    done += per_batch;
    elapsed = thread_cpu_seconds() - start;
  } while (elapsed < seconds);
  return static_cast<double>(done) / elapsed;
}

}  // namespace callsign::bench
