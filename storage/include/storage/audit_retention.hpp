// Retention of the audit journal (docs/audit.md, "Retention"): the oldest entries are removed
// up to a signed checkpoint, which stays as the anchor the first remaining entry's prev_hash
// must match. The removal is declared first, by an "audit.prune" entry chained at the tail, so
// audit_journal::verify can tell a pruned head from a deleted one.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "crypto/result.hpp"
#include "storage/audit_checkpoint.hpp"
#include "storage/change_set.hpp"
#include "storage/database.hpp"

namespace callsign::storage {

inline constexpr std::string_view audit_prune_action = "audit.prune";
// The audit.prune entry's detail naming the checkpoint the journal is pruned through.
inline constexpr std::string_view audit_prune_through_detail = "through";

// The newest signed checkpoint that was signed before `cutoff` (unix seconds): every entry up to
// it was written before then. nullopt when there is none.
result<std::optional<audit_checkpoint>> audit_prune_horizon(const database& db, std::int64_t cutoff);

// Removes entries (and their audit_by_user rows) from the first one through `through`, and the
// checkpoints below `through`; the checkpoint at `through` stays (the anchor). One unsynced batch
// per stretch between two checkpoints, oldest first, so a crash at any point leaves a journal
// that starts right after a stored checkpoint (RocksDB's log is replayed in order: no holes).
// invalid_input unless a checkpoint is stored at `through` and an entry follows it. Answers the
// number of entries removed.
result<std::uint64_t> remove_audit_entries_through(database& db, std::uint64_t through);

struct audit_prune_report {
  std::uint64_t through = 0;       // the anchor checkpoint; 0 when nothing was due
  std::uint64_t removed = 0;       // entries removed by this call
  std::uint64_t first_seq = 0;     // the first entry left
  std::uint64_t prune_entry = 0;   // seq of the audit.prune entry; 0 when nothing was due
};

// Who prunes: the CLI over the control socket or offline ("admin"/"cli"), or the server's
// retention setting ("system"/"retention").
struct audit_prune_actor {
  std::string type;
  std::string id;
};

// The whole operation: the horizon for `cutoff`; when it is past the journal's first entry,
// the audit.prune entry (details through, entry_hash, cutoff, entries) committed through
// `writer` (the group-commit writer, or what callsignd wraps it in) and durable, then
// remove_audit_entries_through. Waits for the commit: never on the writer's own thread or an
// I/O thread. One at a time per process (a mutex); safe while the writer appends. Nothing due (no checkpoint before the cutoff, already pruned
// through it, or nothing to remove but earlier audit.prune entries and audit.link entries): a
// report with through = 0 and no entry.
result<audit_prune_report> prune_audit_journal(database& db, commit_sink& writer, std::int64_t cutoff,
                                               std::int64_t now, const audit_prune_actor& actor);

}  // namespace callsign::storage
