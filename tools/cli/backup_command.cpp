// callsign backup / restore: a consistent copy of a data directory, taken while callsignd runs
// (the server makes the RocksDB checkpoint, asked over <data dir>/control.sock) or while it is
// stopped (this command opens the database itself).
#include <sys/stat.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>

#include "argument_parser.hpp"
#include "command_table.hpp"
#include "server/control/control_commands.hpp"
#include "server/control/control_socket.hpp"
#include "storage/clock.hpp"
#include "storage/data_dir_backup.hpp"
#include "storage/database.hpp"

namespace callsign::cli {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view backup_usage =
    "usage: callsign backup --data-dir DIR --out DEST\n"
    "\n"
    "Writes a consistent backup of DIR into DEST (which must not exist, or be empty): a\n"
    "RocksDB checkpoint of DIR/db (users, authenticators, replay marks, counters and the\n"
    "audit chain at one point in time) plus every other file of DIR (master.key, the\n"
    "development JWT key, a config kept there). Directories are 0700, files 0600. The\n"
    "backup holds the master key: it is as sensitive as DIR itself. A ring callsignd reads\n"
    "from a systemd credential ($CREDENTIALS_DIRECTORY/master.key) is not in DIR, so not\n"
    "in the backup: back up its source file too.\n"
    "\n"
    "While callsignd runs, the server takes the checkpoint (asked over DIR/control.sock;\n"
    "it writes DEST as its own user). Otherwise this command opens DIR/db itself.\n"
    "\n"
    "  --data-dir DIR       callsignd's data directory\n"
    "  --out DEST           the backup directory to create\n";

constexpr std::string_view restore_usage =
    "usage: callsign restore --from DEST --data-dir NEW_DIR\n"
    "\n"
    "Restores a backup made by 'callsign backup' into NEW_DIR, which must not exist or be\n"
    "empty: copied owner-only, fsynced, then moved into place in one rename, and the\n"
    "database opened once to check it. Start callsignd with --data-dir NEW_DIR.\n"
    "\n"
    "  --from DEST          the backup directory\n"
    "  --data-dir NEW_DIR   the data directory to create\n";

constexpr std::array<option_spec, 2> backup_specs{{{"data-dir"}, {"out"}}};
constexpr std::array<option_spec, 2> restore_specs{{{"from"}, {"data-dir"}}};
constexpr std::chrono::seconds server_backup_timeout{3600};

int print_report(std::string_view what, const fs::path& path, std::uint64_t files, std::uint64_t bytes) {
  std::printf("%.*s %s: %llu files, %llu bytes\n", static_cast<int>(what.size()), what.data(), path.c_str(),
              static_cast<unsigned long long>(files), static_cast<unsigned long long>(bytes));
  return exit_ok;
}

int backup_offline(const fs::path& dir, const fs::path& dest) {
  auto db = storage::database::open({dir / storage::database_dir_name, false});
  if (!db) {
    if (db.error().kind == error_kind::conflict) {
      return runtime_error("callsignd holds " + (dir / storage::database_dir_name).string() + " but " +
                           (dir / server::control_socket_file_name).string() +
                           " does not answer: a backup needs the running server's control socket");
    }
    return runtime_error(db.error().message);
  }
  const storage::system_clock_source clock;
  const auto report = storage::write_backup(**db, dir, dest, clock.unix_seconds());
  if (!report) return runtime_error("backup failed: " + report.error().message);
  return print_report("backup written to", dest, report->files, report->bytes);
}

int run_backup(const parsed_options& options) {
  const auto data_dir = options.value("data-dir");
  const auto out = options.value("out");
  if (!data_dir || data_dir->empty()) return usage_error("backup needs --data-dir");
  if (!out || out->empty()) return usage_error("backup needs --out");
  const fs::path dir(*data_dir);
  const fs::path dest = fs::absolute(fs::path(*out)).lexically_normal();
  std::error_code ec;
  if (!fs::exists(dir / storage::database_dir_name / "CURRENT", ec)) {
    return runtime_error("no database in " + (dir / storage::database_dir_name).string());
  }
  const std::string request = std::string(server::control_command_backup) + "\t" + dest.string();
  auto reply = server::send_control_request(dir / server::control_socket_file_name, request, server_backup_timeout);
  if (!reply) {
    if (reply.error().kind == error_kind::not_found) return backup_offline(dir, dest);
    return runtime_error(reply.error().message);
  }
  const std::string_view text = *reply;
  const std::size_t tab = text.find('\t');
  const std::string_view status = text.substr(0, tab);
  const std::string_view detail = tab == std::string_view::npos ? std::string_view() : text.substr(tab + 1);
  if (status != server::control_reply_ok) return runtime_error("callsignd could not back up: " + std::string(detail));
  // The server's "files=N bytes=M", printed as the offline backup prints its count.
  unsigned long long files = 0;
  unsigned long long bytes = 0;
  if (std::sscanf(std::string(detail).c_str(), "files=%llu bytes=%llu", &files, &bytes) == 2) {
    return print_report("backup written by callsignd to", dest, files, bytes);
  }
  std::printf("backup written to %s by callsignd: %.*s\n", dest.c_str(), static_cast<int>(detail.size()),
              detail.data());
  return exit_ok;
}

int run_restore(const parsed_options& options) {
  const auto from = options.value("from");
  const auto data_dir = options.value("data-dir");
  if (!from || from->empty()) return usage_error("restore needs --from");
  if (!data_dir || data_dir->empty()) return usage_error("restore needs --data-dir");
  const fs::path target(*data_dir);
  const auto report = storage::restore_backup(fs::path(*from), target);
  if (!report) return runtime_error("restore failed: " + report.error().message);
  // Opening once replays the checkpoint's WAL and proves the copy is a usable database.
  auto db = storage::database::open({target / storage::database_dir_name, false});
  if (!db) return runtime_error("restored, but the database does not open: " + db.error().message);
  db->reset();
  return print_report("restored into", target, report->files, report->bytes);
}

}  // namespace

int run_backup_command(std::span<const std::string_view> args) {
  ::umask(077);  // whatever RocksDB creates here (WAL, SST, OPTIONS) is owner-only too
  const auto options = parse_options(args, backup_specs);
  if (!options) return usage_error(options.error().message);
  if (options->help_requested()) return print_help(backup_usage);
  return run_backup(*options);
}

int run_restore_command(std::span<const std::string_view> args) {
  ::umask(077);  // whatever RocksDB creates here (WAL, SST, OPTIONS) is owner-only too
  const auto options = parse_options(args, restore_specs);
  if (!options) return usage_error(options.error().message);
  if (options->help_requested()) return print_help(restore_usage);
  return run_restore(*options);
}

}  // namespace callsign::cli
