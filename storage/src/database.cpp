#include "storage/database.hpp"

#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/utilities/checkpoint.h>
#include <rocksdb/write_batch.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "rocksdb_info_log.hpp"
#include "state_compaction_filter.hpp"
#include "state_merge_operator.hpp"
#include "storage/read_policy.hpp"
#include "storage/state_log.hpp"

namespace callsign::storage {

struct database::impl {
  std::filesystem::path path;
  std::filesystem::path secondary_dir;  // open_read_only only: the secondary's own files
  std::unique_ptr<rocksdb::CompactionFilter> counters_filter;  // declared before db: outlives it
  std::unique_ptr<rocksdb::DB> db;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;  // indexed by column_family

  rocksdb::ColumnFamilyHandle* handle(column_family cf) const {
    return handles[static_cast<std::size_t>(cf)];
  }

  ~impl() {
    for (auto* h : handles) {
      if (h != nullptr && db) {
        (void)db->DestroyColumnFamilyHandle(h);
      }
    }
    handles.clear();
    if (db) {
      (void)db->Close();
    }
    db.reset();
    if (!secondary_dir.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(secondary_dir, ec);
    }
  }
};

namespace {
constexpr std::string_view schema_version_key = "schema_version";
constexpr std::string_view schema_version = "1";

error storage_error(const char* what, const rocksdb::Status& status) {
  // RocksDB status text names files and conditions, never values: fit for the log and the CLI,
  // not for HTTP clients (storage_failed keeps it out of responses, server/src/http/problem.cpp).
  std::string message = std::string(what) + ": " + status.ToString();
  // A fatal background error (an I/O error on the write-ahead log) stops writes in this open
  // database for good: only reopening it, a restart, recovers (docs/operations.md).
  if (status.severity() >= rocksdb::Status::Severity::kFatalError) {
    message += " (RocksDB stopped taking writes: restart callsignd once the device works)";
  }
  return make_error(error_kind::storage_failed, std::move(message));
}

rocksdb::Slice slice(std::string_view text) {
  return {text.data(), text.size()};
}
std::string_view view(const rocksdb::Slice& s) {
  return {s.data(), s.size()};
}

std::vector<rocksdb::ColumnFamilyDescriptor> all_descriptors(const rocksdb::Options& options,
                                                             const rocksdb::CompactionFilter* counters_filter = nullptr) {
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (auto cf : all_column_families()) {
    rocksdb::ColumnFamilyOptions cf_options(options);
    cf_options.merge_operator = state_merge_operator_for(cf);
    if (cf == column_family::counters && counters_filter != nullptr) {
      cf_options.compaction_filter = counters_filter;
      // Even a quiet node rewrites each counters file daily, so expired records go.
      cf_options.periodic_compaction_seconds = 24 * 3600;
    }
    if (cf == column_family::users || cf == column_family::user_emails || cf == column_family::authenticators ||
        cf == column_family::replay_marks || cf == column_family::counters) {
      // Point lookups, many of keys that do not exist (a user's first mark or failure): a Bloom
      // filter per table file answers those without reading the file's index and data blocks.
      rocksdb::BlockBasedTableOptions table;
      table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
      cf_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
    }
    if (cf == column_family::audit_by_user || cf == column_family::replay_marks || cf == column_family::counters) {
      // Small records at scattered keys: a 4 MiB memtable keeps the skip list shallow and in
      // cache, which made group commits about 25 % faster than the 64 MiB default
      // (group_commit_bench); the flushes it costs run on RocksDB's background threads.
      // Not state_log: its records are deleted soon after they are written, and a large
      // memtable lets most of them die there instead of being flushed.
      cf_options.write_buffer_size = std::size_t{4} << 20;
    }
    descriptors.emplace_back(std::string(column_family_name(cf)), cf_options);
  }
  return descriptors;
}

result<std::filesystem::path> make_secondary_dir() {
  std::error_code ec;
  const auto base = std::filesystem::temp_directory_path(ec);
  std::string pattern = (ec ? std::filesystem::path("/tmp") : base) / "callsign-secondary-XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) {
    return make_error(error_kind::unavailable, "cannot create a temporary directory for the read-only view");
  }
  return std::filesystem::path(pattern);
}
}  // namespace

result<std::unique_ptr<database>> database::open(const database_options& options) {
  std::error_code ec;
  std::filesystem::create_directories(options.path, ec);
  if (ec) {
    return make_error(error_kind::unavailable,
                      "cannot create database directory " + options.path.string() + ": " + ec.message());
  }
  rocksdb::Options db_options;
  db_options.create_if_missing = options.create_if_missing;
  db_options.create_missing_column_families = true;
  db_options.paranoid_checks = true;
  if (options.env != nullptr) db_options.env = options.env;
  // <db>/LOG through our writer: RocksDB's own aborts the process on a full disk (rocksdb_info_log.hpp).
  if (auto info_log = rocksdb_info_log::open(options.path / "LOG")) db_options.info_log = std::move(info_log);

  auto state = std::make_unique<impl>();
  state->path = options.path;
  if (options.compaction_clock != nullptr) {
    state->counters_filter = make_counters_compaction_filter(*options.compaction_clock);
  }
  const auto descriptors = all_descriptors(db_options, state->counters_filter.get());
  rocksdb::DB* raw = nullptr;
  auto status = rocksdb::DB::Open(db_options, options.path.string(), descriptors, &state->handles, &raw);
  if (!status.ok()) {
    if (status.IsIOError() && status.ToString().find("/LOCK:") != std::string::npos) {
      // Another process (callsignd, or another tool) has it open: RocksDB allows one writer.
      return make_error(error_kind::conflict,
                        "database " + options.path.string() +
                            " is in use by another process or instance (its RocksDB LOCK is held)");
    }
    return storage_error("cannot open database", status);
  }
  state->db.reset(raw);
  std::unique_ptr<database> db(new database(std::move(state)));
  auto version = db->get(column_family::meta, schema_version_key);
  if (!version) {
    return version.error();
  }
  if (!version->has_value()) {
    if (auto put = db->put(column_family::meta, schema_version_key, schema_version); !put) {
      return put.error();
    }
  } else if (**version != schema_version) {
    return make_error(error_kind::unavailable, "database schema version " + **version +
                                                   " is not supported (expected " + std::string(schema_version) + ")");
  }
  if (auto replayed = replay_state_log(*db); !replayed) {
    return replayed.error();
  }
  return db;
}

result<std::unique_ptr<database>> database::open_read_only(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::is_directory(path, ec)) {
    return make_error(error_kind::not_found, "no database at " + path.string());
  }
  rocksdb::Options db_options;
  db_options.create_if_missing = false;
  db_options.paranoid_checks = true;
  db_options.max_open_files = -1;  // required by secondaries: keeps files the primary deletes readable
  auto state = std::make_unique<impl>();
  state->path = path;
  auto dir = make_secondary_dir();
  if (!dir) return dir.error();
  state->secondary_dir = *dir;
  rocksdb::DB* raw = nullptr;
  auto status = rocksdb::DB::OpenAsSecondary(db_options, path.string(), state->secondary_dir.string(),
                                             all_descriptors(db_options), &state->handles, &raw);
  if (!status.ok()) {
    return storage_error("cannot open database read-only", status);
  }
  state->db.reset(raw);
  status = state->db->TryCatchUpWithPrimary();
  if (!status.ok()) {
    return storage_error("cannot catch up with the running server's database", status);
  }
  std::unique_ptr<database> db(new database(std::move(state)));
  auto version = db->get(column_family::meta, schema_version_key);
  if (!version) return version.error();
  if (!version->has_value() || **version != schema_version) {
    return make_error(error_kind::unavailable, "database at " + path.string() + " has no supported schema version");
  }
  return db;
}

database::database(std::unique_ptr<impl> state) : impl_(std::move(state)) {}
database::~database() = default;

result<void> database::put(column_family cf, std::string_view key, std::string_view value) {
  rocksdb::WriteOptions wo;
  wo.sync = true;
  auto status = impl_->db->Put(wo, impl_->handle(cf), rocksdb::Slice(key.data(), key.size()),
                               rocksdb::Slice(value.data(), value.size()));
  if (!status.ok()) {
    return storage_error("write failed", status);
  }
  return {};
}

result<std::optional<std::string>> database::get(column_family cf, std::string_view key) const {
  std::string value;
  rocksdb::ReadOptions options;
  if (reads_must_not_block()) {
    options.read_tier = rocksdb::kBlockCacheTier;  // memtables, block cache and filters only
  }
  auto status = impl_->db->Get(options, impl_->handle(cf), rocksdb::Slice(key.data(), key.size()), &value);
  if (status.IsNotFound()) {
    return std::optional<std::string>{};
  }
  if (status.IsIncomplete()) {
    return make_error(error_kind::would_block, "the value is not in memory and this thread must not wait for the disk");
  }
  if (!status.ok()) {
    return storage_error("read failed", status);
  }
  return std::optional<std::string>(std::move(value));
}

result<void> database::write(std::span<const write_op> ops) {
  return write_batch(ops, true);
}

result<void> database::write_unsynced(std::span<const write_op> ops) {
  return write_batch(ops, false);
}

result<void> database::write_batch(std::span<const write_op> ops, bool sync) {
  rocksdb::WriteBatch batch;
  for (const write_op& op : ops) {
    rocksdb::Status status;
    switch (op.op) {
      case write_op::kind::put: status = batch.Put(impl_->handle(op.family), slice(op.key), slice(op.value)); break;
      case write_op::kind::merge:
        status = batch.Merge(impl_->handle(op.family), slice(op.key), slice(op.value));
        break;
      case write_op::kind::remove: status = batch.Delete(impl_->handle(op.family), slice(op.key)); break;
      case write_op::kind::remove_range:
        status = batch.DeleteRange(impl_->handle(op.family), slice(op.key), slice(op.value));
        break;
    }
    if (!status.ok()) return storage_error("cannot build write batch", status);
  }
  rocksdb::WriteOptions wo;
  wo.sync = sync;
  const auto status = impl_->db->Write(wo, &batch);
  if (!status.ok()) {
    return storage_error("write failed", status);
  }
  return {};
}

result<void> database::scan(column_family cf, scan_direction direction, std::string_view from,
                            const scan_visitor& visit) const {
  const std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(rocksdb::ReadOptions(), impl_->handle(cf)));
  const bool forward = direction == scan_direction::forward;
  if (from.empty()) {
    forward ? it->SeekToFirst() : it->SeekToLast();
  } else {
    forward ? it->Seek(slice(from)) : it->SeekForPrev(slice(from));
  }
  for (; it->Valid(); forward ? it->Next() : it->Prev()) {
    if (!visit(view(it->key()), view(it->value()))) break;
  }
  if (!it->status().ok()) {
    return storage_error("read failed", it->status());
  }
  return {};
}

result<void> database::compact(column_family cf) {
  rocksdb::CompactRangeOptions options;
  options.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
  const auto status = impl_->db->CompactRange(options, impl_->handle(cf), nullptr, nullptr);
  if (!status.ok()) {
    return storage_error("compaction failed", status);
  }
  return {};
}

result<void> database::compact_range(column_family cf, std::string_view from, std::string_view to) {
  rocksdb::CompactRangeOptions options;
  const rocksdb::Slice begin(from.data(), from.size());
  const rocksdb::Slice end(to.data(), to.size());
  const auto status = impl_->db->CompactRange(options, impl_->handle(cf), from.empty() ? nullptr : &begin, &end);
  if (!status.ok()) {
    return storage_error("compaction failed", status);
  }
  return {};
}

result<void> database::create_checkpoint(const std::filesystem::path& dir) const {
  if (!impl_->secondary_dir.empty()) {
    return make_error(error_kind::invalid_input, "a read-only database view cannot make a checkpoint");
  }
  rocksdb::Checkpoint* raw = nullptr;
  auto status = rocksdb::Checkpoint::Create(impl_->db.get(), &raw);
  if (!status.ok()) return storage_error("cannot start a checkpoint", status);
  const std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
  // log_size_for_flush 0: memtables are flushed first; the WAL tail still needed is copied,
  // so the copy holds every write acknowledged before the call, atomically per WriteBatch.
  std::error_code ec;
  const auto absolute = std::filesystem::absolute(dir, ec);
  if (ec) return make_error(error_kind::unavailable, "cannot resolve " + dir.string() + ": " + ec.message());
  status = checkpoint->CreateCheckpoint(absolute.string(), 0);
  if (!status.ok()) return storage_error("cannot create checkpoint", status);
  return {};
}

bool database::healthy() const {
  std::string value;
  auto status = impl_->db->Get(rocksdb::ReadOptions(), impl_->handle(column_family::meta),
                               rocksdb::Slice(schema_version_key.data(), schema_version_key.size()), &value);
  return status.ok() || status.IsNotFound();
}

const std::filesystem::path& database::path() const noexcept { return impl_->path; }

}  // namespace callsign::storage
