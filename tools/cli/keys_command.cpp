// callsign keys rotate: a new master key version, every sealed authenticator secret re-sealed
// under it. Offline only: the command needs the database to itself (see docs/operations.md).
#include <sys/stat.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <string>

#include "argument_parser.hpp"
#include "command_table.hpp"
#include "storage/clock.hpp"
#include "storage/data_dir_backup.hpp"
#include "storage/database.hpp"
#include "storage/key_ring_file.hpp"
#include "storage/key_rotation.hpp"

namespace callsign::cli {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view usage =
    "usage: callsign keys rotate --data-dir DIR\n"
    "\n"
    "Adds master key version current+1 to DIR/master.key (atomically, mode 0600), then\n"
    "re-seals every stored authenticator secret (active and pending) under it in one\n"
    "synced write together with the audit entry \"keys.rotate\". Phone tokens derive from\n"
    "the new version at once; callsignd still accepts the previous version's phone tokens\n"
    "for [keys] rotation_overlap_seconds. Audit checkpoints signed with older versions keep\n"
    "verifying: the ring keeps every version.\n"
    "\n"
    "callsignd must be stopped: RocksDB allows one writing process, and this command\n"
    "refuses while callsignd holds DIR/db. A crash part-way leaves a working data dir; run\n"
    "the command again to finish (it adds one more version).\n"
    "\n"
    "  --data-dir DIR       callsignd's data directory\n";

constexpr std::array<option_spec, 1> rotate_specs{{{"data-dir"}}};

int run_rotate(const parsed_options& options) {
  const auto data_dir = options.value("data-dir");
  if (!data_dir || data_dir->empty()) return usage_error("keys rotate needs --data-dir");
  const fs::path dir(*data_dir);
  const fs::path key_file = dir / storage::key_ring_file_name;
  std::error_code ec;
  if (!fs::exists(key_file, ec)) {
    return runtime_error("no master key at " + key_file.string() + " (callsignd creates it on first start)");
  }
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
  const auto report = storage::rotate_master_key(**db, key_file, clock, "cli");
  if (!report) return runtime_error("key rotation failed: " + report.error().message);
  std::printf(
      "master key rotated: version %u -> %u; re-sealed %llu authenticator secrets (%llu active, %llu pending); "
      "audit entry seq %llu\n",
      report->from_version, report->to_version,
      static_cast<unsigned long long>(report->resealed.active + report->resealed.pending),
      static_cast<unsigned long long>(report->resealed.active),
      static_cast<unsigned long long>(report->resealed.pending), static_cast<unsigned long long>(report->audit_seq));
  return exit_ok;
}

}  // namespace

int run_keys_command(std::span<const std::string_view> args) {
  ::umask(077);  // whatever RocksDB creates here (WAL, SST, OPTIONS) is owner-only too
  if (args.empty()) return usage_error("keys needs a subcommand: rotate (see 'callsign keys --help')");
  const std::string_view sub = args[0];
  if (sub == "--help" || sub == "-h") return print_help(usage);
  if (sub != "rotate") return usage_error("unknown keys subcommand '" + std::string(sub) + "' (rotate)");
  const auto options = parse_options(args.subspan(1), rotate_specs);
  if (!options) return usage_error(options.error().message);
  if (options->help_requested()) return print_help(usage);
  return run_rotate(*options);
}

}  // namespace callsign::cli
