// The third side of group_commit_bench, "raw-shaped": the RocksDB records that verify-shaped
// changes become, written by one thread straight through storage::database::write, with no
// group-commit machinery (no queue, no writer thread, no completions, no state-log fold, no
// checkpoints). It sorts each batch by key as the writer does, because that makes RocksDB's
// memtable inserts cheaper. It does strictly less work than the writer for the same records, so its
// items/s over the raw side's records/s is the ceiling of group_commit_bench's ratio for this
// change shape. Included by group_commit_bench.cpp only.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "crypto/sha256.hpp"
#include "group_commit_changes.hpp"
#include "storage/audit_entry.hpp"
#include "storage/change_set.hpp"
#include "storage/database.hpp"
#include "storage/state_log.hpp"

namespace group_commit_raw_shaped {

using namespace callsign;

struct raw_shaped_figures {
  std::uint64_t items = 0;    // changes written
  std::uint64_t records = 0;  // RocksDB records: 2 per change, 1 state-log record per batch
  std::uint64_t batches = 0;  // synced WriteBatches
  double seconds = 0;
  double cpu_seconds = 0;

  void add(const raw_shaped_figures& other) {
    items += other.items;
    records += other.records;
    batches += other.batches;
    seconds += other.seconds;
    cpu_seconds += other.cpu_seconds;
  }
};

class raw_shaped_side {
 public:
  // Changes precomputed before timing: building and encoding them is not what this side measures.
  static constexpr std::size_t pool_size = 4096;

  // Exits with a message on stderr when the database cannot be opened, as the raw side does.
  // `batch` bounds the records of one WriteBatch; a batch holds at least one change.
  raw_shaped_side(const std::filesystem::path& path, int batch) : changes_per_batch_(std::max(1, (batch - 1) / 2)) {
    auto db = storage::database::open({path});
    if (!db) {
      std::fprintf(stderr, "group_commit_bench: cannot open the raw-shaped database: %s\n", db.error().message.c_str());
      std::exit(1);
    }
    db_ = std::move(db).value();
    build_pool();
  }

  int changes_per_batch() const noexcept { return changes_per_batch_; }

  // Writes synced batches until `seconds` have passed. `cpu_seconds` is the process CPU clock
  // the other sides use, so the figures compare.
  raw_shaped_figures run(double seconds, double (*cpu_seconds)()) {
    using steady = std::chrono::steady_clock;
    const double cpu_before = cpu_seconds();
    const auto start = steady::now();
    const auto deadline = start + std::chrono::duration<double>(seconds);
    const auto per_batch = static_cast<std::size_t>(changes_per_batch_);
    raw_shaped_figures f;
    do {
      std::vector<storage::write_op> ops;
      std::vector<storage::write_op> state;  // the batch's replay-mark and counter merges
      ops.reserve(2 * per_batch + 1);
      state.reserve(3 * per_batch);
      for (std::size_t i = 0; i < per_batch; ++i) {
        const pooled_change& change = pool_[next_pool_++ % pool_.size()];
        // Only the keys must be fresh (a reused key would overwrite instead of insert); the
        // values are copied from the pool, as the writer moves freshly built strings.
        const std::uint64_t seq = next_seq_++;
        ops.push_back(
            {storage::write_op::kind::put, storage::column_family::audit, storage::audit_key(seq), change.audit_value});
        ops.push_back({storage::write_op::kind::put, storage::column_family::audit_by_user,
                       storage::audit_subject_key(change.subject, seq), std::string()});
        state.insert(state.end(), change.state_ops.begin(), change.state_ops.end());
      }
      // As the writer logs a group's state writes: one record, never folded here.
      ops.push_back({storage::write_op::kind::put, storage::column_family::state_log,
                     storage::state_log_key(next_log_++), storage::encode_state_log_record(state)});
      storage::sort_by_family_and_key(ops);
      if (auto written = db_->write(ops); !written) {
        std::fprintf(stderr, "group_commit_bench: raw-shaped write failed: %s\n", written.error().message.c_str());
        std::exit(1);
      }
      f.items += per_batch;
      f.records += ops.size();
      ++f.batches;
    } while (steady::now() < deadline);
    f.seconds = std::chrono::duration<double>(steady::now() - start).count();
    f.cpu_seconds = cpu_seconds() - cpu_before;
    return f;
  }

 private:
  // What one verify-shaped change writes, already encoded.
  struct pooled_change {
    std::string subject;                       // for its audit_by_user index key
    std::string audit_value;                   // its audit entry's stored bytes
    std::vector<storage::write_op> state_ops;  // merges into replay_marks or counters
  };

  // Encodes the entries exactly as the writer does, chained from a zero hash, so each value has
  // the size and content of a real one (its seq and prev_hash then go stale as keys move on).
  void build_pool() {
    pool_.reserve(pool_size);
    storage::audit_hash prev{};
    for (std::size_t i = 0; i < pool_size; ++i) {
      storage::change_set change = group_commit_changes::verify_like_change(0, i);
      const storage::audit_draft& draft = change.audit.front();
      std::string value = storage::encode_audit_entry(i + 1, prev, draft);
      prev = crypto::sha256(value);
      pool_.push_back({draft.subject, std::move(value), std::move(change.ops)});
    }
  }

  const int changes_per_batch_;
  std::unique_ptr<storage::database> db_;
  std::vector<pooled_change> pool_;
  std::size_t next_pool_ = 0;
  std::uint64_t next_seq_ = 1;  // audit seqs start at 1, as the journal's do
  std::uint64_t next_log_ = 1;  // so do state-log record numbers
};

// The raw_shaped_* lines of group_commit_bench's output.
inline void print_raw_shaped_figures(const raw_shaped_figures& f) {
  const auto per_second = [&f](std::uint64_t count) {
    return f.seconds > 0 ? static_cast<double>(count) / f.seconds : 0.0;
  };
  std::printf("raw_shaped_items_per_second %.0f\n", per_second(f.items));
  std::printf("raw_shaped_records_per_second %.0f\n", per_second(f.records));
  std::printf("raw_shaped_batches_per_second %.0f\n", per_second(f.batches));
  std::printf("raw_shaped_items_per_batch %.1f\n",
              f.batches == 0 ? 0.0 : static_cast<double>(f.items) / static_cast<double>(f.batches));
  std::printf("raw_shaped_cpu_us_per_item %.2f\n",
              f.items == 0 ? 0.0 : f.cpu_seconds * 1e6 / static_cast<double>(f.items));
}

}  // namespace group_commit_raw_shaped
