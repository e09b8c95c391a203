// JSON-lines log on stdout: one object per line with ts, level, msg and fields.
// Never log codes, passwords, secrets, tokens or keys.
#pragma once

#include <cstdint>
#include <cstdio>
#include <initializer_list>
#include <mutex>
#include <string_view>
#include <variant>

namespace callsign::server {

enum class log_level { debug = 0, info = 1, warn = 2, error = 3 };

struct log_field {
  std::string_view key;
  std::variant<std::string_view, std::int64_t, double, bool> value;

  log_field(std::string_view k, std::string_view v) : key(k), value(v) {}
  log_field(std::string_view k, const char* v) : key(k), value(std::string_view(v)) {}
  log_field(std::string_view k, std::int64_t v) : key(k), value(v) {}
  log_field(std::string_view k, int v) : key(k), value(static_cast<std::int64_t>(v)) {}
  log_field(std::string_view k, unsigned v) : key(k), value(static_cast<std::int64_t>(v)) {}
  log_field(std::string_view k, std::uint64_t v) : key(k), value(static_cast<std::int64_t>(v)) {}
  log_field(std::string_view k, double v) : key(k), value(v) {}
  log_field(std::string_view k, bool v) : key(k), value(v) {}
};

// Thread-safety: write() may be called from any thread; lines never interleave.
class json_log {
 public:
  explicit json_log(std::FILE* out = stdout, log_level min_level = log_level::info) : out_(out), min_(min_level) {}

  void write(log_level level, std::string_view message, std::initializer_list<log_field> fields = {});
  void info(std::string_view message, std::initializer_list<log_field> fields = {}) {
    write(log_level::info, message, fields);
  }
  void warn(std::string_view message, std::initializer_list<log_field> fields = {}) {
    write(log_level::warn, message, fields);
  }
  void error(std::string_view message, std::initializer_list<log_field> fields = {}) {
    write(log_level::error, message, fields);
  }
  void set_level(log_level level) noexcept { min_ = level; }

 private:
  std::mutex mutex_;
  std::FILE* out_;
  log_level min_;
};

}  // namespace callsign::server
