// Group-commit throughput against its ceiling, raw RocksDB, in one process on the same disk.
//
// (a) storage::group_commit_writer on a real storage::database: --threads submitter threads
//     (like callsignd's I/O threads) each keep --in-flight changes submitted, each shaped like
//     what POST /v1/verify commits: one audit_draft of a verify attempt plus, for a valid code,
//     the replay mark's merge, for a wrong one the three failure counters' merges (user, agent,
//     source address). A completion is handed to its submitter's queue, which is woken only when
//     it was idle (as posting to an io_context does); the submitter then submits as many new
//     changes as completed. Counts committed changes (items) per second, and groups (synced
//     WriteBatches) per second.
// (b) raw RocksDB in a separate directory: one thread writes WriteBatches of --batch records
//     (~300-byte values, like an audit entry) with WriteOptions::sync = true.
//     Counts records per second.
// (c) "raw-shaped", the ceiling of (a) against (b): one thread, its own storage::database, writes
//     through database::write the very records verify-shaped changes become (each change's audit
//     entry and audit_by_user key, one state_log record per batch), with no group-commit
//     machinery (group_commit_raw_shaped.hpp). Counts changes (items) per second. Skipped with
//     --shape record, where it would be (b) again.
// The phases alternate --rounds times (a, b, c, a, b, c, ...) so a burst of load from other
// processes on this shared machine hits every side rather than one. Figures are wall-clock.
//
// Prints one "<metric> <value>" line per figure so tools/bench/verify can parse it.
// Usage: group_commit_bench [--seconds S] [--rounds N] [--threads K] [--in-flight N] [--batch N] [--dir DIR]
//                           [--only group|raw|raw-shaped]   (one side alone, e.g. under perf; no ratio)
//                           [--shape verify|record]
#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>
#include <stdlib.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <vector>

#include "crypto/key_ring.hpp"
#include "storage/change_set.hpp"
#include "storage/clock.hpp"
#include "storage/database.hpp"
#include "storage/group_commit_writer.hpp"
#include "storage/shared_state_format.hpp"
#include "group_commit_changes.hpp"
#include "group_commit_raw_shaped.hpp"

namespace {

using namespace callsign;
using namespace group_commit_changes;
using namespace group_commit_raw_shaped;
using steady = std::chrono::steady_clock;

struct options {
  double seconds = 5.0;  // per side, split across the rounds
  int rounds = 5;
  int threads = 2;
  int in_flight = 128;   // per thread; threads * in_flight = changes waiting at once
  int batch = 256;       // raw (and at most raw-shaped) RocksDB records per synced WriteBatch
  std::filesystem::path dir;  // empty: a fresh directory under $TMPDIR, removed at exit
  std::string_view only;      // "group", "raw" or "raw-shaped": run one side alone (for perf); no ratio
  bool plain_records = false; // --shape record: each change is one 300-byte put, like a raw record
};

[[noreturn]] void usage(const char* problem) {
  std::fprintf(stderr,
               "group_commit_bench: %s\n"
               "usage: group_commit_bench [--seconds S] [--rounds N] [--threads K] [--in-flight N] [--batch N]"
               " [--dir DIR] [--only group|raw|raw-shaped] [--shape verify|record]\n",
               problem);
  std::exit(2);
}

template <class T>
T parse_number(std::string_view text, T low, T high, const char* what) {
  T value{};
  if constexpr (std::is_floating_point_v<T>) {
    try {
      std::size_t used = 0;
      value = static_cast<T>(std::stod(std::string(text), &used));
      if (used != text.size()) usage(what);
    } catch (...) {
      usage(what);
    }
  } else {
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size()) usage(what);
  }
  if (value < low || value > high) usage(what);
  return value;
}

options parse_options(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::printf("usage: group_commit_bench [--seconds S] [--rounds N] [--threads K] [--in-flight N] [--batch N]"
                  " [--dir DIR] [--only group|raw|raw-shaped] [--shape verify|record]\n");
      std::exit(0);
    }
    if (i + 1 >= argc) usage("missing value");
    const std::string_view value = argv[++i];
    if (arg == "--seconds") {
      o.seconds = parse_number<double>(value, 0.1, 3600, "--seconds must be 0.1-3600");
    } else if (arg == "--rounds") {
      o.rounds = parse_number<int>(value, 1, 100, "--rounds must be 1-100");
    } else if (arg == "--threads") {
      o.threads = parse_number<int>(value, 1, 1024, "--threads must be 1-1024");
    } else if (arg == "--in-flight") {
      o.in_flight = parse_number<int>(value, 1, 4096, "--in-flight must be 1-4096");
    } else if (arg == "--batch") {
      o.batch = parse_number<int>(value, 1, 100000, "--batch must be 1-100000");
    } else if (arg == "--only") {
      if (value != "group" && value != "raw" && value != "raw-shaped") usage("--only must be group, raw or raw-shaped");
      o.only = value;
    } else if (arg == "--shape") {
      if (value != "verify" && value != "record") usage("--shape must be verify or record");
      o.plain_records = value == "record";
    } else if (arg == "--dir") {
      o.dir = std::string(value);
    } else {
      usage("unknown argument");
    }
  }
  if (o.only == "raw-shaped" && o.plain_records) usage("--only raw-shaped has no --shape record (it would be raw)");
  return o;
}

// CPU seconds (user + system) of the whole process so far: both sides run alone in their
// slices, so the difference over a slice is that side's CPU, which a slow disk does not inflate.
double process_cpu_seconds() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  const auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

struct group_commit_figures {
  std::uint64_t items = 0;
  std::uint64_t groups = 0;
  double seconds = 0;
  double cpu_seconds = 0;
  std::uint64_t failed = 0;
};

// One submitter's queue of completions, like an io_context's: the writer appends, and wakes the
// submitter only when it is waiting.
struct submitter {
  std::mutex mutex;
  std::condition_variable changed;
  int completed = 0;  // completions not yet taken by the submitter
  bool waiting = false;
  std::uint64_t failed = 0;
};

group_commit_figures run_group_commit(storage::group_commit_writer& writer, const options& o, double seconds) {
  const auto before = writer.stats();
  const double cpu_before = process_cpu_seconds();
  const auto start = steady::now();
  const auto deadline = start + std::chrono::duration<double>(seconds);
  std::vector<std::unique_ptr<submitter>> state;
  for (int t = 0; t < o.threads; ++t) state.push_back(std::make_unique<submitter>());
  std::vector<std::thread> threads;
  for (int t = 0; t < o.threads; ++t) {
    threads.emplace_back([&, t] {
      submitter& me = *state[static_cast<std::size_t>(t)];
      std::uint64_t n = 0;
      int in_flight = 0;
      int to_submit = o.in_flight;
      const auto done = [&me](result<storage::commit_receipt> outcome) {
        const std::lock_guard lock(me.mutex);
        ++me.completed;
        if (!outcome) ++me.failed;
        if (me.waiting) me.changed.notify_one();
      };
      for (;;) {
        if (steady::now() >= deadline) to_submit = 0;
        for (; to_submit > 0; --to_submit, ++in_flight) {
          writer.submit(o.plain_records ? plain_record_change(t, n++) : verify_like_change(t, n++), done);
        }
        if (in_flight == 0) break;
        std::unique_lock lock(me.mutex);
        me.waiting = true;
        me.changed.wait(lock, [&] { return me.completed > 0; });
        me.waiting = false;
        to_submit = me.completed;
        in_flight -= me.completed;
        me.completed = 0;
      }
    });
  }
  for (auto& th : threads) th.join();
  const auto elapsed = std::chrono::duration<double>(steady::now() - start).count();
  const auto after = writer.stats();
  group_commit_figures f;
  f.items = after.items_written - before.items_written;
  f.groups = after.groups_written - before.groups_written;
  f.seconds = elapsed;
  f.cpu_seconds = process_cpu_seconds() - cpu_before;
  for (const auto& s : state) f.failed += s->failed;
  return f;
}

struct raw_figures {
  std::uint64_t records = 0;
  std::uint64_t batches = 0;
  double seconds = 0;
  double cpu_seconds = 0;
};

class raw_rocksdb {
 public:
  explicit raw_rocksdb(const std::filesystem::path& path) {
    rocksdb::Options db_options;  // the same options storage::database uses
    db_options.create_if_missing = true;
    db_options.paranoid_checks = true;
    rocksdb::DB* raw = nullptr;
    auto status = rocksdb::DB::Open(db_options, path.string(), &raw);
    if (!status.ok()) {
      std::fprintf(stderr, "group_commit_bench: cannot open raw RocksDB: %s\n", status.ToString().c_str());
      std::exit(1);
    }
    db_.reset(raw);
  }

  raw_figures run(int batch, double seconds) {
    rocksdb::WriteOptions sync;
    sync.sync = true;
    // An audit-entry-sized value whose bytes vary a little, like JSON text does.
    std::string value(300, 'v');
    const double cpu_before = process_cpu_seconds();
    const auto start = steady::now();
    const auto deadline = start + std::chrono::duration<double>(seconds);
    raw_figures f;
    do {
      rocksdb::WriteBatch wb;
      for (int i = 0; i < batch; ++i) {
        char key[8];
        const std::uint64_t k = next_key_++;
        for (int b = 0; b < 8; ++b) key[b] = static_cast<char>(k >> (56 - 8 * b));
        value[static_cast<std::size_t>(k % value.size())] = static_cast<char>('a' + k % 26);
        wb.Put(rocksdb::Slice(key, sizeof key), value);
      }
      auto status = db_->Write(sync, &wb);
      if (!status.ok()) {
        std::fprintf(stderr, "group_commit_bench: raw RocksDB write failed: %s\n", status.ToString().c_str());
        std::exit(1);
      }
      f.records += static_cast<std::uint64_t>(batch);
      ++f.batches;
    } while (steady::now() < deadline);
    f.seconds = std::chrono::duration<double>(steady::now() - start).count();
    f.cpu_seconds = process_cpu_seconds() - cpu_before;
    return f;
  }

  ~raw_rocksdb() {
    if (db_) (void)db_->Close();
  }

 private:
  std::unique_ptr<rocksdb::DB> db_;
  std::uint64_t next_key_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  const options o = parse_options(argc, argv);

  std::filesystem::path dir = o.dir;
  bool remove_dir = false;
  if (dir.empty()) {
    std::error_code ec;
    auto base = std::filesystem::temp_directory_path(ec);
    std::string pattern = (ec ? std::filesystem::path("/tmp") : base) / "callsign-gcbench-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) {
      std::perror("group_commit_bench: mkdtemp");
      return 1;
    }
    dir = pattern;
    remove_dir = true;
  }

  int status = 0;
  {
    auto db = storage::database::open({dir / "group-commit"});
    if (!db) {
      std::fprintf(stderr, "group_commit_bench: %s\n", db.error().message.c_str());
      return 1;
    }
    auto ring = crypto::key_ring::generate();
    if (!ring) {
      std::fprintf(stderr, "group_commit_bench: %s\n", ring.error().message.c_str());
      return 1;
    }
    const storage::system_clock_source clk;
    auto writer = storage::group_commit_writer::start(**db, *ring, clk, storage::group_commit_options{});
    if (!writer) {
      std::fprintf(stderr, "group_commit_bench: %s\n", writer.error().message.c_str());
      return 1;
    }
    raw_rocksdb raw(dir / "raw");
    const bool run_group = o.only.empty() || o.only == "group";
    const bool run_raw = o.only.empty() || o.only == "raw";
    const bool run_raw_shaped = !o.plain_records && (o.only.empty() || o.only == "raw-shaped");
    // Opened (and its change pool built) only when it runs.
    std::unique_ptr<raw_shaped_side> raw_shaped;
    if (run_raw_shaped) raw_shaped = std::make_unique<raw_shaped_side>(dir / "raw-shaped", o.batch);

    // Warm every side (file creation, first WAL growth) before measuring.
    if (run_group) (void)run_group_commit(**writer, o, 0.3);
    if (run_raw) (void)raw.run(o.batch, 0.3);
    if (run_raw_shaped) (void)raw_shaped->run(0.3, process_cpu_seconds);

    const double slice = o.seconds / o.rounds;
    group_commit_figures gc;
    raw_figures rr;
    raw_shaped_figures rs;
    for (int r = 0; r < o.rounds; ++r) {
      if (run_group) {
        const auto a = run_group_commit(**writer, o, slice);
        gc.items += a.items;
        gc.groups += a.groups;
        gc.seconds += a.seconds;
        gc.cpu_seconds += a.cpu_seconds;
        gc.failed += a.failed;
      }
      if (run_raw) {
        const auto b = raw.run(o.batch, slice);
        rr.records += b.records;
        rr.batches += b.batches;
        rr.seconds += b.seconds;
        rr.cpu_seconds += b.cpu_seconds;
      }
      if (run_raw_shaped) rs.add(raw_shaped->run(slice, process_cpu_seconds));
    }
    const auto stats = (*writer)->stats();
    (*writer)->stop();

    const double items_per_second = run_group ? static_cast<double>(gc.items) / gc.seconds : 0.0;
    const double records_per_second = run_raw ? static_cast<double>(rr.records) / rr.seconds : 0.0;
    std::printf("group_commit_threads %d\n", o.threads);
    std::printf("group_commit_in_flight %d\n", o.threads * o.in_flight);
    std::printf("group_commit_items_per_second %.0f\n", items_per_second);
    std::printf("group_commit_groups_per_second %.0f\n", run_group ? static_cast<double>(gc.groups) / gc.seconds : 0.0);
    std::printf("group_commit_items_per_group %.1f\n",
                gc.groups == 0 ? 0.0 : static_cast<double>(gc.items) / static_cast<double>(gc.groups));
    // The same work counted in RocksDB records, for comparison with the raw side's unit.
    const double per_item = o.plain_records ? 1.0 : records_per_item;
    std::printf("group_commit_shape %s\n", o.plain_records ? "record" : "verify");
    std::printf("group_commit_records_per_second %.0f\n", items_per_second * per_item);
    std::printf("group_commit_state_folds %llu\n", static_cast<unsigned long long>(stats.state_folds));
    std::printf("group_commit_checkpoints %llu\n", static_cast<unsigned long long>(stats.checkpoints_written));
    std::printf("group_commit_failed_items %llu\n", static_cast<unsigned long long>(gc.failed));
    std::printf("group_commit_cpu_us_per_item %.2f\n",
                gc.items == 0 ? 0.0 : gc.cpu_seconds * 1e6 / static_cast<double>(gc.items));
    std::printf("raw_batch_records %d\n", o.batch);
    std::printf("raw_cpu_us_per_record %.2f\n",
                rr.records == 0 ? 0.0 : rr.cpu_seconds * 1e6 / static_cast<double>(rr.records));
    std::printf("raw_records_per_second %.0f\n", records_per_second);
    std::printf("raw_batches_per_second %.0f\n", run_raw ? static_cast<double>(rr.batches) / rr.seconds : 0.0);
    if (!o.plain_records) print_raw_shaped_figures(rs);
    if (run_group && run_raw) {
      std::printf("ratio %.2f\n", items_per_second / records_per_second);
      std::printf("records_ratio %.2f\n", items_per_second * per_item / records_per_second);
      if (run_raw_shaped) {
        const double shaped_items_per_second = static_cast<double>(rs.items) / rs.seconds;
        std::printf("raw_shaped_ratio %.2f\n", shaped_items_per_second / records_per_second);
        std::printf("group_vs_raw_shaped %.2f\n", items_per_second / shaped_items_per_second);
      }
    }
    if (gc.failed != 0) status = 1;
  }
  if (remove_dir) {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  return status;
}
