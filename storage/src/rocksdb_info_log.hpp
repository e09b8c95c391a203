// RocksDB's info log (<db>/LOG), written by us instead of RocksDB's EnvLogger. Debian builds
// RocksDB with assertions on, and EnvLogger's file writer asserts, aborting callsignd, on the
// first line after a failed write: exactly what a full disk does (tests/integration/disk_full_test.py).
// This one drops a line it cannot write; the next line tries again.
// Thread-safety: Logv may be called from any thread (RocksDB's writers and background jobs);
// each line is one write(2) to an O_APPEND descriptor, so lines never interleave.
#pragma once

#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#include <rocksdb/env.h>

#include <algorithm>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <memory>

namespace callsign::storage {

class rocksdb_info_log final : public rocksdb::Logger {
 public:
  // Null when the file cannot be opened (RocksDB then makes its own).
  static std::shared_ptr<rocksdb::Logger> open(const std::filesystem::path& file) {
    const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) return nullptr;
    return std::make_shared<rocksdb_info_log>(fd);
  }

  explicit rocksdb_info_log(int fd) : fd_(fd) {}
  ~rocksdb_info_log() override { ::close(fd_); }
  rocksdb_info_log(const rocksdb_info_log&) = delete;
  rocksdb_info_log& operator=(const rocksdb_info_log&) = delete;

  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override {
    char line[4096];
    const auto now = std::chrono::system_clock::now();
    const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
    const auto micros =
        std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count() % 1000000;
    std::tm utc{};
    gmtime_r(&seconds, &utc);
    // RocksDB's own line shape: time, thread, text.
    int used = std::snprintf(line, sizeof line, "%04d/%02d/%02d-%02d:%02d:%02d.%06lld %lx ", utc.tm_year + 1900,
                             utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                             static_cast<long long>(micros), static_cast<unsigned long>(pthread_self()));
    if (used < 0) return;
    const int text = std::vsnprintf(line + used, sizeof line - static_cast<std::size_t>(used), format, ap);
    if (text < 0) return;
    used = std::min<int>(used + text, static_cast<int>(sizeof line) - 2);
    line[used++] = '\n';
    // A failed or short write (a full disk) loses this line only.
    (void)!::write(fd_, line, static_cast<std::size_t>(used));
  }

 private:
  int fd_;
};

}  // namespace callsign::storage
