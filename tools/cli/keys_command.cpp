// callsign keys rotate: a new master key version, every sealed authenticator secret re-sealed
// under it. Offline only: the command needs the database to itself (see docs/operations.md).
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>

#include "argument_parser.hpp"
#include "command_table.hpp"
#include "key_ring_source.hpp"
#include "storage/clock.hpp"
#include "storage/data_dir_backup.hpp"
#include "storage/database.hpp"
#include "storage/key_ring_file.hpp"
#include "storage/key_rotation.hpp"

namespace callsign::cli {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view usage =
    "usage: callsign keys rotate --data-dir DIR [--master-key FILE]\n"
    "\n"
    "Adds master key version current+1 to the ring (atomically), then re-seals every\n"
    "stored authenticator secret (active and pending) under it in one synced write\n"
    "together with the audit entry \"keys.rotate\". Phone tokens derive from the new\n"
    "version at once; callsignd still accepts the previous version's phone tokens for\n"
    "[keys] rotation_overlap_seconds. Audit checkpoints signed with older versions keep\n"
    "verifying: the ring keeps every version.\n"
    "\n"
    "The ring rewritten is DIR/master.key (mode 0600), or with --master-key the FILE given,\n"
    "replaced in place keeping its mode and owner: with the ring in a systemd credential,\n"
    "name the credential's source file (LoadCredential=master.key:FILE), then restart\n"
    "callsignd. A master.key in $CREDENTIALS_DIRECTORY is a read-only copy, so the command\n"
    "refuses to rewrite it; it also refuses --master-key while DIR/master.key is another\n"
    "ring, which callsignd would read instead.\n"
    "\n"
    "callsignd must be stopped: RocksDB allows one writing process, and this command\n"
    "refuses while callsignd holds DIR/db. A crash part-way leaves a working data dir; run\n"
    "the command again to finish (it adds one more version).\n"
    "\n"
    "  --data-dir DIR       callsignd's data directory\n";

constexpr std::array<option_spec, 2> rotate_specs{{{"data-dir"}, master_key_option}};

bool same_file(const fs::path& a, const fs::path& b) {
  std::error_code ec;
  return fs::equivalent(a, b, ec);
}

// Whether the rotation may rewrite the ring at `source`: never a credential (systemd's copy is
// read-only and replaced at each start), never a --master-key that callsignd would not read
// because DIR/master.key is another ring.
result<void> check_writable_ring(const key_ring_source& source, const fs::path& dir) {
  const char* credentials = std::getenv("CREDENTIALS_DIRECTORY");
  const bool in_credentials =
      source.origin == key_ring_origin::credential ||
      (credentials != nullptr && *credentials != '\0' &&
       same_file(source.path.parent_path().empty() ? "." : source.path.parent_path(), credentials));
  if (in_credentials) {
    return make_error(error_kind::forbidden,
                      "the ring is " + describe(source) +
                          ", systemd's read-only copy; rotate its source file instead: 'callsign keys rotate "
                          "--data-dir " +
                          dir.string() +
                          " --master-key FILE' with FILE from LoadCredential=master.key:FILE, then restart callsignd");
  }
  const fs::path in_data_dir = dir / storage::key_ring_file_name;
  std::error_code ec;
  if (source.origin == key_ring_origin::option && fs::exists(in_data_dir, ec) && !same_file(source.path, in_data_dir)) {
    return make_error(error_kind::conflict, in_data_dir.string() +
                                                " is another ring, which callsignd reads unless "
                                                "started with a master.key credential; keep only "
                                                "one (docs/operations.md, \"Credentials\")");
  }
  return {};
}

// The replaced ring gets the mode and owner the old file had (a 0400 root-owned credential
// source stays so); a failed chown is reported, the rotation stands.
void restore_mode_and_owner(const fs::path& path, const struct stat& before) {
  struct stat after {};
  if (::stat(path.c_str(), &after) != 0) return;
  if ((after.st_mode & 07777U) != (before.st_mode & 0700U) && ::chmod(path.c_str(), before.st_mode & 0700U) != 0) {
    std::fprintf(stderr, "callsign: warning: cannot give %s its old mode %o back\n", path.c_str(),
                 static_cast<unsigned>(before.st_mode & 0700U));
  }
  if ((after.st_uid != before.st_uid || after.st_gid != before.st_gid) &&
      ::chown(path.c_str(), before.st_uid, before.st_gid) != 0) {
    std::fprintf(stderr, "callsign: warning: %s is now owned by uid %u gid %u, not uid %u gid %u as before\n",
                 path.c_str(), static_cast<unsigned>(after.st_uid), static_cast<unsigned>(after.st_gid),
                 static_cast<unsigned>(before.st_uid), static_cast<unsigned>(before.st_gid));
  }
}

int run_rotate(const parsed_options& options) {
  const auto data_dir = options.value("data-dir");
  if (!data_dir || data_dir->empty()) return usage_error("keys rotate needs --data-dir");
  const auto master_key = options.value(master_key_option.name);
  if (master_key && master_key->empty()) return usage_error("--master-key needs a file name");
  const fs::path dir(*data_dir);
  const auto source = locate_key_ring(master_key, dir);
  if (!source) return runtime_error(source.error().message);
  if (auto writable = check_writable_ring(*source, dir); !writable) return runtime_error(writable.error().message);
  // The ring must load (present, owner-only, valid) before anything is opened or written.
  if (auto ring = load_key_ring(*source); !ring) return runtime_error(ring.error().message);
  struct stat before {};
  if (::stat(source->path.c_str(), &before) != 0) {
    return runtime_error("cannot inspect " + describe(*source) + ": " + std::strerror(errno));
  }
  std::error_code ec;
  if (!fs::exists(dir / storage::database_dir_name / "CURRENT", ec)) {
    return runtime_error("no database in " + (dir / storage::database_dir_name).string());
  }
  // Opened before the key file changes, so a server starting meanwhile cannot take the lock.
  auto db = storage::database::open({dir / storage::database_dir_name, false});
  if (!db) {
    if (db.error().kind == error_kind::conflict) {
      return runtime_error("callsignd (or another tool) is using " + dir.string() +
                           ": stop callsignd, run 'callsign keys rotate' again, then start callsignd");
    }
    return runtime_error(db.error().message);
  }
  const storage::system_clock_source clock;
  const auto report = storage::rotate_master_key(**db, source->path, clock, "cli");
  if (source->origin == key_ring_origin::option) restore_mode_and_owner(source->path, before);
  if (!report) return runtime_error("key rotation failed: " + report.error().message);
  std::printf(
      "master key rotated: version %u -> %u; re-sealed %llu authenticator secrets (%llu active, %llu pending); "
      "audit entry seq %llu\n",
      report->from_version, report->to_version,
      static_cast<unsigned long long>(report->resealed.active + report->resealed.pending),
      static_cast<unsigned long long>(report->resealed.active),
      static_cast<unsigned long long>(report->resealed.pending), static_cast<unsigned long long>(report->audit_seq));
  if (source->origin == key_ring_origin::option) {
    std::printf("new ring written to %s; callsignd reads it at its next start (systemctl restart callsign)\n",
                source->path.c_str());
  }
  return exit_ok;
}

}  // namespace

int run_keys_command(std::span<const std::string_view> args) {
  ::umask(077);  // whatever RocksDB creates here (WAL, SST, OPTIONS) is owner-only too
  if (args.empty()) return usage_error("keys needs a subcommand: rotate (see 'callsign keys --help')");
  const std::string_view sub = args[0];
  if (sub == "--help" || sub == "-h") {
    print_help(usage);
    return print_help(master_key_help);
  }
  if (sub != "rotate") return usage_error("unknown keys subcommand '" + std::string(sub) + "' (rotate)");
  const auto options = parse_options(args.subspan(1), rotate_specs);
  if (!options) return usage_error(options.error().message);
  if (options->help_requested()) {
    print_help(usage);
    return print_help(master_key_help);
  }
  return run_rotate(*options);
}

}  // namespace callsign::cli
