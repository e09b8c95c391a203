// Master key rotation: a new key version in <data dir>/master.key, then every sealed
// authenticator secret re-sealed under it in one synced WriteBatch together with its audit
// entry. See docs/operations.md ("Rotating the master key") for the procedure and crash safety.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "crypto/key_ring.hpp"
#include "crypto/result.hpp"
#include "storage/change_set.hpp"
#include "storage/clock.hpp"
#include "storage/database.hpp"
#include "storage/group_commit_writer.hpp"

namespace callsign::storage {

struct reseal_counts {
  std::uint64_t records = 0;  // authenticator records rewritten
  std::uint64_t active = 0;   // active secrets re-sealed
  std::uint64_t pending = 0;  // pending (unconfirmed enrollment) secrets re-sealed
};

// Stages, into `changes`, every authenticator record that holds a blob sealed under another
// version than ring.current(), with those blobs re-sealed under ring.current(). Blobs already
// under the current version are left as they are, so running it twice changes nothing more.
// Reads one consistent scan. Fails (staging nothing usable) when any blob cannot be opened;
// the message names no user.
result<reseal_counts> stage_reseal_authenticators(database& db, const crypto::key_ring& ring, change_set& changes);

struct key_rotation_report {
  std::uint32_t from_version = 0;
  std::uint32_t to_version = 0;
  reseal_counts resealed;
  std::uint64_t audit_seq = 0;  // the "keys.rotate" entry
};

// Offline rotation, for a database this process opened as its only writer:
//  1. loads `key_file`, adds version current+1 created at clk's now, and atomically replaces
//     the file (0600, fsynced). A version that seals nothing yet is harmless, so a crash here
//     leaves a working data dir (open_with_ring still finds the old versions);
//  2. starts a group-commit writer with the new ring and commits ONE change: the re-sealed
//     records plus the audit entry "keys.rotate" (actor_type "admin", actor_id `actor_id`,
//     details from_version, to_version, resealed_active, resealed_pending; never key
//     material), then stops it, which signs a checkpoint with the new version.
// Running it again after a crash between 1 and 2 adds one more version and re-seals
// everything still under the older ones.
result<key_rotation_report> rotate_master_key(database& db, const std::filesystem::path& key_file, const clock& clk,
                                              const std::string& actor_id, group_commit_options options = {});

}  // namespace callsign::storage
