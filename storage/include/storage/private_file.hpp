// Owner-only secret files (master key ring, JWT signing key): refused when group or others
// may access them, created with mode 0600 in 0700 directories, replaced atomically, never
// seen half-written.
#pragma once

#include <cstddef>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>

#include "crypto/result.hpp"

namespace callsign::storage {

// The whole file. Refuses a missing file (error_kind::not_found), anything but a regular
// file (invalid_input), a file group or others may access in any way (forbidden; the message
// says to chmod 600), and more than `max_size` bytes (invalid_input). The content is a
// secret: the caller wipes it (crypto::secure_wipe) when done. Messages name the path, never
// the content.
result<std::string> read_private_file(const std::filesystem::path& path, std::size_t max_size);

// Reads the file, or when it does not exist yet writes make_content()'s bytes to it: missing
// parent directories get mode 0700, the file 0600, and it appears complete or not at all.
// If another process creates the file at the same moment, its content wins and is returned,
// so two processes never run with different secrets. An existing file that read_private_file
// refuses is never overwritten.
result<std::string> read_or_create_private_file(const std::filesystem::path& path, std::size_t max_size,
                                                const std::function<result<std::string>()>& make_content);

// Atomically replaces (or creates) the file: a 0600 temporary file in the same directory is
// written and fsynced, renamed over the target, then the directory is fsynced. Readers see
// the old content or the new one, never a mix.
result<void> replace_private_file(const std::filesystem::path& path, std::string_view content);

}  // namespace callsign::storage
