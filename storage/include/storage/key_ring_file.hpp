// The master key ring on disk (<data dir>/master.key): owner-only permissions, atomic
// replacement, never a half-written file.
#pragma once

#include <filesystem>
#include <string_view>

#include "crypto/key_ring.hpp"
#include "crypto/result.hpp"

namespace callsign::storage {

// The ring's file name inside the data directory.
inline constexpr std::string_view key_ring_file_name = "master.key";

// Refuses a missing file (error_kind::not_found), anything but a regular file, a file that
// group or others may access in any way (error_kind::forbidden; the message says to
// chmod 600), and unparsable content (the message names the line, never the key).
result<crypto::key_ring> load_key_ring(const std::filesystem::path& path);

// Loads the ring, or when the file does not exist yet generates version 1 and writes it:
// missing parent directories are created with mode 0700, the file with mode 0600. If another
// process creates the file at the same moment, its ring wins and is returned, so two
// processes never run with different keys.
result<crypto::key_ring> load_or_create_key_ring(const std::filesystem::path& path);

// Atomically replaces (or creates) the file: a 0600 temporary file in the same directory is
// written and fsynced, renamed over the target, then the directory is fsynced. Readers see
// the old ring or the new one, never a mix.
result<void> save_key_ring(const std::filesystem::path& path, const crypto::key_ring& ring);

}  // namespace callsign::storage
