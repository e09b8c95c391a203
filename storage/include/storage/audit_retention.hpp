// Retention of the audit journal (docs/audit.md, "Retention"): the oldest entries are removed
// up to a signed checkpoint, which stays as the anchor the first remaining entry's prev_hash
// must match. The removal is declared first, by an "audit.prune" entry chained at the tail, so
// audit_journal::verify can tell a pruned head from a deleted one.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/key_ring.hpp"
#include "crypto/result.hpp"
#include "storage/audit_checkpoint.hpp"
#include "storage/change_set.hpp"
#include "storage/database.hpp"

namespace callsign::storage {

inline constexpr std::string_view audit_prune_action = "audit.prune";
// The audit.prune entry's detail naming the checkpoint the journal is pruned through.
inline constexpr std::string_view audit_prune_through_detail = "through";
// Prefix of what an audit.prune entry's signature covers: distinct from a checkpoint's, so the
// anchor checkpoint's own signature cannot be copied into a forged declaration.
inline constexpr std::string_view audit_prune_domain = "callsign audit prune";

// "callsign audit prune" || be64(through) || entry_hash.
std::vector<std::uint8_t> audit_prune_message(std::uint64_t through, const audit_hash& entry_hash);

// The newest checkpoint before `cutoff` (unix seconds) that holds: signed under `ring`, its
// entry's bytes hashing to its entry_hash, and that entry's time (covered by the signature, unlike
// the checkpoint's own) before the cutoff. Only checkpoints after the first entry count. nullopt
// when there is none; an error when a candidate does not verify (nothing is pruned then).
result<std::optional<audit_checkpoint>> audit_prune_horizon(const database& db, const crypto::key_ring& ring,
                                                            std::int64_t cutoff);

// Removes entries (and their audit_by_user rows) from the first one through `through`, and the
// checkpoints below `through`; the checkpoint at `through` stays (the anchor). One unsynced batch
// per stretch between two checkpoints, oldest first, so a crash at any point leaves a journal
// that starts right after a stored checkpoint (RocksDB's log is replayed in order: no holes).
// Each stretch is checked first as verify() would (every prev_hash, its checkpoint under `ring`):
// a journal someone edited is not pruned from the edit on, so the edit stays detectable.
// `should_stop`, asked between stretches, ends the call early (the next call goes on).
// invalid_input unless a checkpoint is stored at `through` and an entry follows it. Answers the
// number of entries removed.
result<std::uint64_t> remove_audit_entries_through(database& db, const crypto::key_ring& ring, std::uint64_t through,
                                                   const std::function<bool()>& should_stop = {});

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

// The audit.prune entry declaring `anchor`: details through, entry_hash, cutoff, entries, and
// key_version + signature (Ed25519 over audit_prune_message with the checkpoint key of the
// ring's current version, audit_checkpoint.hpp). Without the master key ring a declaration
// cannot be forged, so removing the head and appending a declaration of one's own is caught.
result<audit_draft> audit_prune_draft(const crypto::key_ring& ring, const audit_checkpoint& anchor,
                                      std::uint64_t entries, std::int64_t cutoff, std::int64_t now,
                                      const audit_prune_actor& actor);

// The whole operation: the horizon for `cutoff`; when it is past the journal's first entry,
// the audit.prune entry (audit_prune_draft) committed through
// `writer` (the group-commit writer, or what callsignd wraps it in) and durable, then
// remove_audit_entries_through, then a compaction of the removed range. Waits for the commit:
// never on the writer's own thread or an I/O thread. One at a time per process (a mutex); safe
// while the writer appends. Nothing due (no checkpoint before the cutoff, already pruned
// through it, or nothing to remove but earlier audit.prune entries and audit.link entries): a
// report with through = 0 and no entry.
result<audit_prune_report> prune_audit_journal(database& db, commit_sink& writer, const crypto::key_ring& ring,
                                               std::int64_t cutoff, std::int64_t now, const audit_prune_actor& actor,
                                               const std::function<bool()>& should_stop = {});

}  // namespace callsign::storage
