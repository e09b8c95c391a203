// The one writer of the database's durable changes. Requests submit change_sets from any
// thread; a dedicated thread takes everything queued, numbers and hash-chains the audit
// entries in submission order, adds due checkpoints, writes the whole group as ONE RocksDB
// WriteBatch with a WAL fsync, then completes each request. One fsync serves many requests.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "crypto/ed25519.hpp"
#include "crypto/key_ring.hpp"
#include "crypto/result.hpp"
#include "storage/audit_entry.hpp"
#include "storage/change_set.hpp"
#include "storage/clock.hpp"
#include "storage/database.hpp"
#include "storage/state_log.hpp"
#include "storage/state_log_folder.hpp"

namespace callsign::storage {

// What the writer tells its owner about failing writes (callsignd logs it at level error, then
// info on recovery): the first failed group of a run of failures, then at most one report a
// minute (by the writer's clock) while they go on, and the first success after them.
struct write_health_report {
  bool failing = false;
  std::string cause;          // the failed write's message (RocksDB's text, with file paths)
  std::uint64_t failures = 0;  // failed groups since the previous report
};

// An entry as the writer committed it (group_commit_options::on_durable).
struct durable_audit_entry {
  std::uint64_t seq = 0;
  std::string subject;
  std::string stored;  // its canonical stored bytes (audit_entry.hpp)
  audit_hash hash{};   // SHA-256 of `stored`
};

struct group_commit_options {
  std::uint64_t checkpoint_every = 1000;          // entries between checkpoints; 0 = never by count
  std::int64_t checkpoint_interval_seconds = 60;  // or this long (by the clock); 0 = never by time
  std::size_t max_group_items = 1024;             // change_sets per WriteBatch at most
  // Replay-mark and counter writes go through column_family::state_log (storage/state_log.hpp)
  // and are folded into their keyed families when this many distinct keys are pending, or this long
  // after the oldest unfolded group, or at stop(), by a thread of their own
  // (storage/state_log_folder.hpp), so a fold never holds up the groups behind it on this
  // thread. RocksDB still applies one batch at a time, so a group written during a fold waits
  // for the fold's batch: 256 keys keep that wait short (docs/audit.md, "State log").
  std::size_t fold_max_keys = state_log_folder_options{}.max_keys;
  std::int64_t fold_interval_ms = state_log_folder_options{}.interval_ms;
  // Shared mode (issue 18): every entry carries this node id ("node", covered by the hash chain;
  // valid_audit_node_id). Empty: no "node" member, the single-node format.
  std::string node_id;
  // Test seam: runs before each group's write; an error fails the group exactly as a failed
  // RocksDB write would. Empty in production.
  std::function<result<void>()> fault_injector;
  // Called on the writer thread, rate-limited as write_health_report says; must be quick.
  std::function<void(const write_health_report&)> report_health;
  // Called on the writer thread once a group is durable and its completions ran, with the
  // group's entries in sequence order (shared mode copies them to Redis: docs/audit.md,
  // "Several nodes"). Must be quick: the next group waits. Unset: nothing is collected.
  std::function<void(std::vector<durable_audit_entry>)> on_durable;
};

// Thread-safety: submit(), commit() and stats() may be called from any number of threads at
// once. stop() may be called from any thread but the writer's own (not from a completion).
class group_commit_writer final : public commit_sink {
 public:
  using completion = std::function<void(result<commit_receipt>)>;

  // Recovers the chain head from `db`, derives the checkpoint key of ring.current(), and
  // starts the writer thread. Refuses a journal whose latest checkpoint is beyond its last
  // entry (a truncated tail), so new entries never overwrite that evidence, and a node_id that
  // is not a node id (invalid_input). `db` and `clk`
  // must outlive the writer.
  static result<std::unique_ptr<group_commit_writer>> start(database& db, const crypto::key_ring& ring,
                                                            const clock& clk, group_commit_options options);

  group_commit_writer(const group_commit_writer&) = delete;
  group_commit_writer& operator=(const group_commit_writer&) = delete;
  ~group_commit_writer();  // stop()

  // Non-blocking. `done` runs exactly once on the writer thread after the change is durable
  // (or failed); it must be quick and must not call stop() or commit(). A change whose audit
  // drafts fail validate_audit_draft, or that writes to an audit column family itself,
  // fails alone with invalid_input. After stop(), `done` runs at once with unavailable.
  void submit(change_set change, completion done) override;

  // submit() and wait: for tools and tests. Never call it from a completion.
  result<commit_receipt> commit(change_set change);

  // Writes everything already submitted, a final checkpoint when entries were added since the
  // last one, then joins the thread. Idempotent.
  void stop();

  group_commit_stats stats() const noexcept override;

 private:
  struct pending {
    change_set change;
    completion done;
  };
  struct chain_state {
    std::uint64_t last_seq = 0;
    audit_hash last_hash{};
    std::uint64_t checkpoint_seq = 0;
    std::int64_t checkpoint_time = 0;
  };

  group_commit_writer(database& db, const clock& clk, group_commit_options options, crypto::ed25519_signing_key key,
                      std::uint32_t key_version, chain_state head);

  void run();
  void write_group(std::deque<pending>& group);
  bool checkpoint_due_by_time(const chain_state& head) const;
  // Appends a signed checkpoint of head's last entry to `ops`; advances head's checkpoint.
  result<void> add_checkpoint(std::vector<write_op>& ops, chain_state& head) const;
  void write_checkpoint_only();
  // Writer thread only: keeps writes_failing and calls options_.report_health.
  void note_write(const result<void>& written);

  database& db_;
  const clock& clock_;
  const group_commit_options options_;
  const crypto::ed25519_signing_key key_;
  const std::uint32_t key_version_;
  chain_state head_;  // writer thread only (and start/stop before/after it runs)
  // Writer thread only: the next state-log record number. The folder gets each record's ops
  // once the record is durable and is stopped after the writer thread.
  std::uint64_t log_next_ = 1;
  std::unique_ptr<state_log_folder> folder_;

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<pending> queue_;  // guarded by mutex_
  bool stopping_ = false;      // guarded by mutex_
  std::mutex stop_mutex_;      // serialises stop() callers
  std::thread thread_;

  std::atomic<std::uint64_t> groups_written_{0};
  std::atomic<std::uint64_t> items_written_{0};
  std::atomic<std::uint64_t> entries_written_{0};
  std::atomic<std::uint64_t> checkpoints_written_{0};
  std::atomic<std::uint64_t> groups_failed_{0};
  std::atomic<bool> writes_failing_{false};
  std::uint64_t unreported_failures_ = 0;  // writer thread only
  std::int64_t last_report_time_ = 0;      // writer thread only
};

}  // namespace callsign::storage
