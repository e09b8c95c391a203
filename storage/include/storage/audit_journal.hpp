// The read side of the audit journal: per-user trails, paging, single entries, the chain
// head, and verification of the whole chain and its signed checkpoints. Writing goes
// through group_commit_writer only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/key_ring.hpp"
#include "crypto/result.hpp"
#include "storage/audit_checkpoint.hpp"
#include "storage/audit_entry.hpp"
#include "storage/database.hpp"

namespace callsign::storage {

// Where the chain ends, as stored: what the writer continues from.
struct audit_chain_head {
  std::uint64_t last_seq = 0;                   // 0 when the journal is empty
  audit_hash last_hash{};                       // SHA-256 of entry last_seq's stored bytes; zeros when empty
  std::uint64_t checkpoint_seq = 0;             // latest checkpoint, 0 when none
  std::optional<std::int64_t> checkpoint_time;  // its time, when there is one
};

// The outcome of verify(). `reason` names sequence numbers and key versions only.
struct audit_verification {
  bool intact = true;
  std::uint64_t entries = 0;              // entries checked
  std::uint64_t pruned_through = 0;       // entries 1..this were pruned (audit_retention.hpp); 0 when none
  std::uint64_t last_seq = 0;             // highest contiguous seq found
  std::uint64_t checkpoints = 0;          // checkpoints checked
  std::uint64_t last_checkpoint_seq = 0;  // 0 when none
  std::uint64_t first_bad_seq = 0;        // when !intact
  std::string reason;                     // when !intact
};

// Thread-safety: every member function is const and may run concurrently with the others
// and with a group_commit_writer on the same database. Each call reads one consistent view.
class audit_journal {
 public:
  explicit audit_journal(const database& db) noexcept : db_(&db) {}

  // `subject`'s entries, newest first: at most `limit`, only seqs below `before` when given.
  result<std::vector<audit_entry>> for_subject(std::string_view subject, std::size_t limit,
                                               std::optional<std::uint64_t> before = std::nullopt) const;
  // `subject`'s entries with seq > `after`, oldest first, at most `limit` (GET /v1/audit?user=).
  result<std::vector<audit_entry>> for_subject_after(std::string_view subject, std::uint64_t after,
                                                     std::size_t limit) const;
  // Entries with seq > `after`, ascending, at most `limit`.
  result<std::vector<audit_entry>> after(std::uint64_t after, std::size_t limit) const;
  // nullopt when absent.
  result<std::optional<audit_entry>> at(std::uint64_t seq) const;
  // 0 when the journal is empty.
  result<std::uint64_t> last_sequence() const;
  // The first entry's seq: 1, or the one after a pruned head; 0 when the journal is empty.
  result<std::uint64_t> first_sequence() const;
  // The signed checkpoint stored at `seq`, nullopt when none (also the anchor of a pruned head).
  result<std::optional<audit_checkpoint>> checkpoint_at(std::uint64_t seq) const;
  result<audit_chain_head> chain_head() const;
  // Every entry with seq > `after`, ascending, decoded: `visit(seq, entry)` gets a damaged
  // entry as an error value and returns false to stop. An error result only for read failures.
  result<void> for_each_after(std::uint64_t after,
                              const std::function<bool(std::uint64_t, result<audit_entry>)>& visit) const;

  // Walks the chain from seq 1, or from a pruned head (the checkpoint before the first entry
  // anchors it, and an audit.prune entry must declare a horizon at or past it): contiguous seqs, each prev_hash equal to the SHA-256 of the
  // previous entry's stored bytes, every checkpoint's signature (public key derived from the
  // ring's version it names) and entry hash, and no checkpoint beyond the last entry (a
  // truncated tail). An error result only for read failures; a damaged journal is a value.
  result<audit_verification> verify(const crypto::key_ring& ring) const;

 private:
  const database* db_;
};

}  // namespace callsign::storage
