// One point read for the embedded directories that never waits for the disk on the calling
// thread: answered from RocksDB's memory (memtables, block cache, Bloom filters) inline, or read
// again on the blocking executor when the value is only in a table file.
#pragma once

#include <optional>
#include <string>
#include <utility>

#include "storage/completion.hpp"
#include "storage/database.hpp"
#include "storage/embedded_user_directory.hpp"
#include "storage/read_policy.hpp"

namespace callsign::storage {

// Without an executor (a tool, a fuzzer), the work waits on the calling thread.
inline void run_blocking(const blocking_executor& blocking, std::function<void()> work) {
  if (blocking) {
    blocking(std::move(work));
  } else {
    work();
  }
}

inline void read_without_waiting(database& db, const blocking_executor& blocking, column_family cf, std::string key,
                                 completion<std::optional<std::string>> done) {
  std::optional<result<std::optional<std::string>>> value;
  {
    nonblocking_reads memory_only;
    value.emplace(db.get(cf, key));
  }
  if (*value || value->error().kind != error_kind::would_block) {
    done(std::move(*value));
    return;
  }
  run_blocking(blocking, [&db, cf, key = std::move(key), done = std::move(done)]() mutable {
    blocking_reads_allowed may_wait;
    auto read = db.get(cf, key);
    done(std::move(read));
  });
}

}  // namespace callsign::storage
