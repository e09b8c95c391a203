// Replay marks and counters reach disk through a log, not key by key.
//
// Their backends (embedded_replay_marks, embedded_rate_counters, embedded_blocks) keep every
// key they changed in memory, so their column families are only read for keys memory does not
// hold. The group-commit writer therefore writes a group's changes to those two families as ONE
// record in column_family::state_log, in the group's synced WriteBatch beside its audit entries
// (a sequential key, like the entries), instead of one random-key record per change. Later it
// folds the logged changes into the keyed families: merges of one key are combined with the
// merge operator's own rule (so a busy agent's failure counter is one write per fold, not one per
// request), written in key order, and the folded log records are deleted in the same batch. On
// open, database::open applies whatever the log still holds (replay_state_log), so a crash
// between a group and its fold loses nothing. docs/storage.md has the format.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "crypto/result.hpp"
#include "storage/change_set.hpp"
#include "storage/column_family.hpp"

namespace callsign::storage {

class database;

// The families whose writes go through the log: replay_marks and counters.
bool is_logged_state_family(column_family cf) noexcept;

// 8-byte big-endian record number, so records sort in the order they were written.
std::string state_log_key(std::uint64_t number);
std::optional<std::uint64_t> parse_state_log_key(std::string_view key);  // nullopt unless 8 bytes

// A record: the ops in order, each as family (1 byte), kind (1 byte), then key and value, each
// a 4-byte big-endian length and the bytes. Only logged-state families may appear.
std::string encode_state_log_record(std::span<const write_op> ops);
result<std::vector<write_op>> decode_state_log_record(std::string_view bytes);

// Logged changes not yet folded into the keyed families, combined per key in commit order:
// a put or a remove replaces what was pending; a merge is combined with a pending merge or put
// by the family's merge rule (merge_state_values), and after a remove it becomes a put. Writing
// the result gives the same stored state as writing every original op in order.
// Not thread-safe: owned by the writer thread.
class state_fold {
 public:
  void add(const write_op& op);
  std::size_t keys() const noexcept { return pending_.size(); }
  bool empty() const noexcept { return pending_.empty(); }
  // The combined ops sorted by (family, key); the fold is empty afterwards.
  std::vector<write_op> take();

 private:
  std::map<std::pair<column_family, std::string>, write_op, std::less<>> pending_;
};

// Folds every record in column_family::state_log into the keyed families and deletes them, in
// one synced WriteBatch. Returns the number of records applied. A record that cannot be decoded
// fails with internal and changes nothing.
result<std::size_t> replay_state_log(database& db);

}  // namespace callsign::storage
