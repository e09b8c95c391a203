// A RocksDB FileSystem for tests that watches the write-ahead log (the `*.log` files): it records
// every append and sync in one ordered journal, beside events the test notes itself (a commit's
// completion), and can make appends fail with ENOSPC as a full disk does. Hand it to
// storage::database_options::env through make_env().
// Thread-safety: every member may be called from any thread (RocksDB appends and syncs from its
// writers, the test notes from its own threads).
#pragma once

#include <rocksdb/env.h>
#include <rocksdb/file_system.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace callsign::test {

struct wal_event {
  enum class kind { append, sync, note };
  kind what = kind::note;
  std::string file;         // append, sync: the WAL file's name
  std::uint64_t begin = 0;  // append: where its bytes start in the file
  std::uint64_t end = 0;    // append: where they end; sync: every byte before this is on disk
  std::string label;        // note: what the test noted
};

class wal_probe_file_system final : public rocksdb::FileSystemWrapper {
 public:
  enum class failure : std::uint8_t { none, no_space, io_error };

  wal_probe_file_system() : rocksdb::FileSystemWrapper(rocksdb::FileSystem::Default()) {}

  const char* Name() const override { return "wal_probe_file_system"; }

  // While set, every append to a WAL file fails as write(2) does on a full disk.
  void fail_wal_appends(bool on) { failing_.store(on ? failure::no_space : failure::none); }
  // While set, every append to a WAL file fails with EIO, as on a failing device: RocksDB does
  // not count it as retryable, unlike ENOSPC.
  void fail_wal_appends_with_io_error(bool on) { failing_.store(on ? failure::io_error : failure::none); }
  std::uint64_t failed_appends() const { return failed_appends_.load(); }

  void note(std::string label) {
    const std::lock_guard lock(mutex_);
    events_.push_back({wal_event::kind::note, {}, 0, 0, std::move(label)});
  }
  std::vector<wal_event> events() const {
    const std::lock_guard lock(mutex_);
    return events_;
  }
  // Every byte appended to `file`, in order (the file as written, headers and all).
  std::string contents(const std::string& file) const {
    const std::lock_guard lock(mutex_);
    for (const auto& [name, bytes] : contents_) {
      if (name == file) return bytes;
    }
    return {};
  }

  rocksdb::IOStatus NewWritableFile(const std::string& name, const rocksdb::FileOptions& options,
                                    std::unique_ptr<rocksdb::FSWritableFile>* result,
                                    rocksdb::IODebugContext* dbg) override {
    auto status = target()->NewWritableFile(name, options, result, dbg);
    if (status.ok() && is_wal(name)) *result = std::make_unique<wal_file>(std::move(*result), *this, name);
    return status;
  }
  rocksdb::IOStatus ReuseWritableFile(const std::string& name, const std::string& old_name,
                                      const rocksdb::FileOptions& options,
                                      std::unique_ptr<rocksdb::FSWritableFile>* result,
                                      rocksdb::IODebugContext* dbg) override {
    auto status = target()->ReuseWritableFile(name, old_name, options, result, dbg);
    if (status.ok() && is_wal(name)) *result = std::make_unique<wal_file>(std::move(*result), *this, name);
    return status;
  }

  // An Env whose file I/O goes through `fs` (the rest is the default Env's).
  static std::unique_ptr<rocksdb::Env> make_env(const std::shared_ptr<wal_probe_file_system>& fs) {
    return rocksdb::NewCompositeEnv(fs);
  }

 private:
  static bool is_wal(const std::string& name) {
    return name.size() > 4 && name.compare(name.size() - 4, 4, ".log") == 0;
  }

  class wal_file final : public rocksdb::FSWritableFileOwnerWrapper {
   public:
    wal_file(std::unique_ptr<rocksdb::FSWritableFile> file, wal_probe_file_system& fs, std::string name)
        : rocksdb::FSWritableFileOwnerWrapper(std::move(file)), fs_(fs), name_(std::move(name)) {}

    rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                             rocksdb::IODebugContext* dbg) override {
      if (auto refused = fs_.refuse(name_); !refused.ok()) return refused;
      auto status = target()->Append(data, options, dbg);
      if (status.ok()) fs_.appended(name_, data);
      return status;
    }
    rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                             const rocksdb::DataVerificationInfo& info, rocksdb::IODebugContext* dbg) override {
      if (auto refused = fs_.refuse(name_); !refused.ok()) return refused;
      auto status = target()->Append(data, options, info, dbg);
      if (status.ok()) fs_.appended(name_, data);
      return status;
    }
    rocksdb::IOStatus Sync(const rocksdb::IOOptions& options, rocksdb::IODebugContext* dbg) override {
      // What is appended before the sync starts is what it makes durable.
      const std::uint64_t covered = fs_.appended_size(name_);
      auto status = target()->Sync(options, dbg);
      if (status.ok()) fs_.synced(name_, covered);
      return status;
    }
    rocksdb::IOStatus Fsync(const rocksdb::IOOptions& options, rocksdb::IODebugContext* dbg) override {
      const std::uint64_t covered = fs_.appended_size(name_);
      auto status = target()->Fsync(options, dbg);
      if (status.ok()) fs_.synced(name_, covered);
      return status;
    }

   private:
    wal_probe_file_system& fs_;
    std::string name_;
  };

  rocksdb::IOStatus refuse(const std::string& name) {
    const failure how = failing_.load();
    if (how == failure::none) return rocksdb::IOStatus::OK();
    failed_appends_.fetch_add(1);
    // The statuses PosixWritableFile returns for ENOSPC and EIO, path and all.
    if (how == failure::io_error) {
      return rocksdb::IOStatus::IOError("While appending to file: " + name, "Input/output error");
    }
    return rocksdb::IOStatus::NoSpace("While appending to file: " + name, "No space left on device");
  }
  std::string& bytes_of(const std::string& file) {
    for (auto& [name, bytes] : contents_) {
      if (name == file) return bytes;
    }
    return contents_.emplace_back(file, std::string()).second;
  }
  void appended(const std::string& file, const rocksdb::Slice& data) {
    const std::lock_guard lock(mutex_);
    std::string& bytes = bytes_of(file);
    const std::uint64_t begin = bytes.size();
    bytes.append(data.data(), data.size());
    events_.push_back({wal_event::kind::append, file, begin, bytes.size(), {}});
  }
  std::uint64_t appended_size(const std::string& file) {
    const std::lock_guard lock(mutex_);
    return bytes_of(file).size();
  }
  void synced(const std::string& file, std::uint64_t covered) {
    const std::lock_guard lock(mutex_);
    events_.push_back({wal_event::kind::sync, file, 0, covered, {}});
  }

  std::atomic<failure> failing_{failure::none};
  std::atomic<std::uint64_t> failed_appends_{0};
  mutable std::mutex mutex_;
  std::vector<wal_event> events_;
  std::vector<std::pair<std::string, std::string>> contents_;  // per WAL file, in creation order
};

}  // namespace callsign::test
