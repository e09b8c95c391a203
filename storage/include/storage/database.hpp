// The embedded RocksDB instance: opens every column family, hides RocksDB types from callers.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "crypto/result.hpp"
#include "storage/change_set.hpp"
#include "storage/clock.hpp"
#include "storage/column_family.hpp"

namespace rocksdb {
class Env;
}

namespace callsign::storage {

struct database_options {
  std::filesystem::path path;
  bool create_if_missing = true;
  // When set, compactions of column_family::counters drop expired sliding-window and block
  // records as of this clock (read from RocksDB's threads; it must outlive the database).
  const clock* compaction_clock = nullptr;
  // Test seam: RocksDB's file I/O goes through this Env (it must outlive the database), so a
  // test can inject ENOSPC or record each WAL sync. Null: the default Env.
  rocksdb::Env* env = nullptr;
};

// Errors: a failed RocksDB read or write is error_kind::storage_failed, its message RocksDB's
// text (file paths included) for the log; server/src/http/problem.cpp never sends it to a client.
// Thread-safety: all member functions may be called concurrently (RocksDB is thread-safe).
class database {
 public:
  // Also applies what column_family::state_log still holds (replay_state_log), so the keyed
  // replay-mark and counter families are complete before anyone reads them.
  static result<std::unique_ptr<database>> open(const database_options& options);
  // For tools that run beside callsignd: a RocksDB secondary instance (safe while the primary
  // writes, unlike OpenForReadOnly), caught up once at open. It sees the data as of that
  // moment and refuses every write. Its own info log goes to a private temporary directory.
  static result<std::unique_ptr<database>> open_read_only(const std::filesystem::path& path);

  database(const database&) = delete;
  database& operator=(const database&) = delete;
  ~database();

  // A durable single-key write (WAL fsync before returning).
  result<void> put(column_family cf, std::string_view key, std::string_view value);
  // nullopt when absent. Inside a nonblocking_reads scope (storage/read_policy.hpp), a value that
  // is in no memtable and not in the block cache is not read: error_kind::would_block.
  result<std::optional<std::string>> get(column_family cf, std::string_view key) const;

  // Every op in one WriteBatch, WAL-synced before returning: all of them or none.
  result<void> write(std::span<const write_op> ops);
  // The same without the fsync: the batch is in the WAL but becomes durable only with the next
  // synced write (or a clean close). For writes that are already durable elsewhere: folds of
  // column_family::state_log (storage/state_log.hpp).
  result<void> write_unsynced(std::span<const write_op> ops);

  enum class scan_direction { forward, backward };
  // Receives each key and value in order; returns false to stop. The views die after the call.
  using scan_visitor = std::function<bool(std::string_view key, std::string_view value)>;
  // forward: keys >= from, ascending (empty `from`: from the first key).
  // backward: keys <= from, descending (empty `from`: from the last key).
  // One scan reads one consistent snapshot, even while writes go on.
  result<void> scan(column_family cf, scan_direction direction, std::string_view from, const scan_visitor& visit) const;
  // Compacts the whole column family now (running its compaction filter): tests, operators.
  result<void> compact(column_family cf);
  // Compacts the keys from `from` (empty: the first) to before `to` now: space given back after a
  // range was removed (audit retention).
  result<void> compact_range(column_family cf, std::string_view from, std::string_view to);
  // A consistent point-in-time copy of the whole database (every column family) in `dir`, which
  // must not exist yet: a RocksDB checkpoint, safe while writes go on. SST files are hard links
  // when `dir` is on the same filesystem. Not for secondaries (open_read_only).
  result<void> create_checkpoint(const std::filesystem::path& dir) const;

  // True when a trivial read succeeds: used by /readyz.
  bool healthy() const;

  const std::filesystem::path& path() const noexcept;

  struct impl;

 private:
  explicit database(std::unique_ptr<impl> state);
  result<void> write_batch(std::span<const write_op> ops, bool sync);
  std::unique_ptr<impl> impl_;
};

}  // namespace callsign::storage
