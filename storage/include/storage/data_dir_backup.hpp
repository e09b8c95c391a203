// Backup and restore of a whole data directory: a RocksDB checkpoint of db/ (one consistent
// point in time across every column family) plus every other file of the data directory
// (master.key, the development JWT key, a config kept there). Everything is written
// owner-only (directories 0700, files 0600) and fsynced; a backup is as sensitive as the
// data directory itself. See docs/operations.md.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string_view>

#include "crypto/result.hpp"
#include "storage/database.hpp"

namespace callsign::storage {

inline constexpr std::string_view database_dir_name = "db";
// Written last into every backup; restore refuses a directory without it.
inline constexpr std::string_view backup_marker_file_name = "callsign-backup";

struct backup_report {
  std::uint64_t files = 0;  // regular files in the result
  std::uint64_t bytes = 0;
};

// Backs up `db` (open as primary, e.g. by the running server) and the rest of `data_dir` into
// `dest`, which must not exist or be an empty directory. The checkpoint is taken first and the
// key ring copied after it: rings only grow, so every key version the checkpoint's sealed
// blobs and checkpoints name is in the copy. Work happens in a temporary sibling of `dest`
// that is renamed into place at the end, so `dest` is complete or absent. `now` (unix
// seconds) is recorded in the marker.
result<backup_report> write_backup(const database& db, const std::filesystem::path& data_dir,
                                   const std::filesystem::path& dest, std::int64_t now);

// Copies a backup made by write_backup into `data_dir`, which must not exist or be an empty
// directory, owner-only and fsynced, via a temporary sibling renamed into place. The marker
// file is not copied.
result<backup_report> restore_backup(const std::filesystem::path& from, const std::filesystem::path& data_dir);

}  // namespace callsign::storage
