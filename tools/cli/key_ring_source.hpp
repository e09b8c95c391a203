// Where a callsign command reads callsignd's master key ring: one lookup for every command that
// needs it (phone-token, breach build, audit verify, users import, keys rotate), so the CLI
// reads the ring callsignd reads, also when systemd hands it over as a credential
// (docs/operations.md, "Credentials").
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "argument_parser.hpp"
#include "crypto/key_ring.hpp"
#include "crypto/result.hpp"

namespace callsign::cli {

enum class key_ring_origin {
  option,      // --master-key FILE
  credential,  // $CREDENTIALS_DIRECTORY/master.key (systemd LoadCredential=), read-only
  data_dir,    // <data dir>/master.key
};

struct key_ring_source {
  std::filesystem::path path;
  key_ring_origin origin = key_ring_origin::data_dir;
};

inline constexpr option_spec master_key_option{"master-key"};

// The --help lines of every command that takes --master-key.
inline constexpr std::string_view master_key_help =
    "  --master-key FILE    the master key ring to read (mode 0600 or 0400). Without it:\n"
    "                       $CREDENTIALS_DIRECTORY/master.key when that file exists (the\n"
    "                       systemd credential callsignd reads), else DIR/master.key\n";

// --master-key FILE when given (it must not be empty); else the master.key credential when
// credentials_directory is set and holds one, refused like callsignd refuses it when
// <data_dir>/master.key exists too; else <data_dir>/master.key. Pure: the caller passes
// getenv("CREDENTIALS_DIRECTORY").
result<key_ring_source> locate_key_ring(std::optional<std::string_view> master_key,
                                        const std::filesystem::path& data_dir, const char* credentials_directory);

// The same, with this process's $CREDENTIALS_DIRECTORY.
result<key_ring_source> locate_key_ring(std::optional<std::string_view> master_key,
                                        const std::filesystem::path& data_dir);

// Loads the ring with callsignd's checks (a regular file, owner-only mode, a valid ring).
// Every error names the path tried and where it came from, never a key byte.
result<crypto::key_ring> load_key_ring(const key_ring_source& source);

// "--master-key /x", "the master.key credential /run/credentials/.../master.key" or "/d/master.key".
std::string describe(const key_ring_source& source);

}  // namespace callsign::cli
