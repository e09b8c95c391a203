#include "server/observability/json_log.hpp"

#include <chrono>
#include <ctime>
#include <string>

#include "server/http/json_writer.hpp"

namespace callsign::server {

namespace {
std::string_view level_name(log_level level) {
  switch (level) {
    case log_level::debug: return "debug";
    case log_level::info: return "info";
    case log_level::warn: return "warn";
    case log_level::error: return "error";
  }
  return "info";
}

std::string utc_timestamp() {
  auto now = std::chrono::system_clock::now();
  auto secs = std::chrono::system_clock::to_time_t(now);
  auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  auto n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof buf - n, ".%03dZ", static_cast<int>(millis));
  return buf;
}
}  // namespace

void json_log::write(log_level level, std::string_view message, std::initializer_list<log_field> fields) {
  if (level < min_) {
    return;
  }
  json_writer json;
  json.begin_object().field("ts", utc_timestamp()).field("level", level_name(level)).field("msg", message);
  for (const auto& f : fields) {
    json.key(f.key);
    std::visit([&json](const auto& v) { json.value(v); }, f.value);
  }
  json.end_object();
  std::string line = std::move(json).str();
  line.push_back('\n');
  std::lock_guard lock(mutex_);
  std::fwrite(line.data(), 1, line.size(), out_);
  std::fflush(out_);
}

}  // namespace callsign::server
