#include "storage/key_rotation.hpp"

#include <optional>
#include <utility>

#include "crypto/constant_time.hpp"
#include "crypto/sealed_box.hpp"
#include "storage/authenticator_store.hpp"
#include "storage/key_ring_file.hpp"

namespace callsign::storage {
namespace {

// Re-seals `blob` under the ring's current version when it names another one. Returns
// whether it changed; the plaintext never outlives the call.
result<bool> reseal_blob(const crypto::key_ring& ring, std::optional<std::string>& blob, std::string_view user_id) {
  if (!blob) return false;
  auto version = crypto::sealed_key_version(*blob);
  if (!version) return make_error(error_kind::internal, "a stored authenticator secret is not a key ring blob");
  if (*version == ring.current().version) return false;
  auto secret = crypto::open_with_ring(ring, *blob, user_id);
  if (!secret) {
    return make_error(error_kind::internal, "a stored authenticator secret sealed under key version " +
                                                std::to_string(*version) + " cannot be opened");
  }
  auto sealed = crypto::seal_with_ring(ring, *secret, user_id);
  crypto::secure_wipe(std::span<std::uint8_t>(*secret));
  if (!sealed) return sealed.error();
  blob = std::move(*sealed);
  return true;
}

}  // namespace

result<reseal_counts> stage_reseal_authenticators(database& db, const crypto::key_ring& ring, change_set& changes) {
  reseal_counts counts;
  std::optional<error> failure;
  const authenticator_store store(db);
  auto scanned = db.scan(column_family::authenticators, database::scan_direction::forward, {},
                         [&](std::string_view user_id, std::string_view value) {
                           std::uint64_t version = 1;  // kept: a reseal is not a change of the enrollment
                           auto record = decode_authenticator(value, &version);
                           if (!record) {
                             failure = record.error();
                             return false;
                           }
                           auto active = reseal_blob(ring, record->active_sealed, user_id);
                           if (!active) {
                             failure = active.error();
                             return false;
                           }
                           auto pending = reseal_blob(ring, record->pending_sealed, user_id);
                           if (!pending) {
                             failure = pending.error();
                             return false;
                           }
                           if (*active || *pending) {
                             store.stage_put(user_id, *record, changes, version);
                             ++counts.records;
                             counts.active += *active ? 1U : 0U;
                             counts.pending += *pending ? 1U : 0U;
                           }
                           return true;
                         });
  if (!scanned) return scanned.error();
  if (failure) return *failure;
  return counts;
}

result<key_rotation_report> rotate_master_key(database& db, const std::filesystem::path& key_file, const clock& clk,
                                              const std::string& actor_id, group_commit_options options) {
  auto old_ring = load_key_ring(key_file);
  if (!old_ring) return old_ring.error();
  auto ring = old_ring->rotated(clk.unix_seconds());
  if (!ring) return ring.error();
  key_rotation_report report;
  report.from_version = old_ring->current().version;
  report.to_version = ring->current().version;

  // Step 1: the key file. From here on every restart sees the new version.
  if (auto saved = save_key_ring(key_file, *ring); !saved) return saved.error();

  // Step 2: one change through the journal's writer, so the entry is chained and numbered
  // like every other, and the final checkpoint is signed with the new version.
  auto writer = group_commit_writer::start(db, *ring, clk, std::move(options));
  if (!writer) return writer.error();
  change_set change;
  auto counts = stage_reseal_authenticators(db, *ring, change);
  if (!counts) {
    (*writer)->stop();
    return counts.error();
  }
  report.resealed = *counts;

  audit_draft audit;
  audit.time = clk.unix_seconds();
  audit.actor_type = "admin";
  audit.actor_id = actor_id;
  audit.action = "keys.rotate";
  audit.outcome = "ok";
  audit.details = {{"from_version", std::to_string(report.from_version)},
                   {"to_version", std::to_string(report.to_version)},
                   {"resealed_active", std::to_string(counts->active)},
                   {"resealed_pending", std::to_string(counts->pending)}};
  change.add_audit(std::move(audit));
  auto receipt = (*writer)->commit(std::move(change));
  (*writer)->stop();
  if (!receipt) return receipt.error();
  if (!receipt->audit_sequences.empty()) report.audit_seq = receipt->audit_sequences.front();
  return report;
}

}  // namespace callsign::storage
