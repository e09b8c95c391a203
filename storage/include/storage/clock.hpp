// Injected time source: production uses the system clock, tests move time by hand.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace callsign::storage {

// Thread-safety: implementations must allow concurrent now() calls.
class clock {
 public:
  virtual ~clock() = default;
  virtual std::chrono::system_clock::time_point now() const = 0;

  std::int64_t unix_seconds() const {
    return std::chrono::duration_cast<std::chrono::seconds>(now().time_since_epoch()).count();
  }
  std::int64_t unix_ms() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(now().time_since_epoch()).count();
  }
};

class system_clock_source final : public clock {
 public:
  std::chrono::system_clock::time_point now() const override { return std::chrono::system_clock::now(); }
};

// Thread-safety: set/advance and now may race; values are atomic.
class manual_clock final : public clock {
 public:
  explicit manual_clock(std::chrono::system_clock::time_point start) : nanos_(to_nanos(start)) {}

  std::chrono::system_clock::time_point now() const override {
    return std::chrono::system_clock::time_point(
        std::chrono::duration_cast<std::chrono::system_clock::duration>(std::chrono::nanoseconds(nanos_.load())));
  }
  void set(std::chrono::system_clock::time_point t) { nanos_.store(to_nanos(t)); }
  void advance(std::chrono::nanoseconds d) { nanos_.fetch_add(d.count()); }

 private:
  static std::int64_t to_nanos(std::chrono::system_clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  }
  std::atomic<std::int64_t> nanos_;
};

}  // namespace callsign::storage
