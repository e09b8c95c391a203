// callsign users import FILE --data DIR: the bulk import of POST /v1/admin/users/import, offline,
// against a stopped server's data directory (docs/cli.md, docs/users.md).
#include <sys/stat.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <future>
#include <optional>
#include <string>
#include <vector>

#include "argument_parser.hpp"
#include "command_table.hpp"
#include "key_ring_source.hpp"
#include "line_input.hpp"
#include "progress_display.hpp"
#include "server/users/user_import.hpp"
#include "storage/blocking_pool.hpp"
#include "storage/clock.hpp"
#include "storage/data_dir_backup.hpp"
#include "storage/database.hpp"
#include "storage/embedded_user_directory.hpp"
#include "storage/group_commit_writer.hpp"

namespace callsign::cli {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view usage =
    "usage: callsign users import FILE --data DIR [--master-key FILE]\n"
    "\n"
    "Imports users from FILE (NDJSON, '-' for stdin): one {\"id\",\"email\",\"phone_support\"} object\n"
    "per line, each validated as PUT /v1/users/{id} validates its body. A line equal to the\n"
    "stored user writes nothing, so running an import again is harmless. Lines that fail are\n"
    "reported with their line number and reason; the others are imported. Writes are group-\n"
    "committed with one summary audit entry (\"user.import\") at the end.\n"
    "\n"
    "callsignd must be stopped: the command refuses while callsignd holds DIR/db. While it\n"
    "runs, progress goes to stderr; the summary goes to stdout. Exit status 1 when any line\n"
    "failed.\n"
    "\n"
    "  --data DIR           callsignd's data directory (--data-dir is the same)\n";

constexpr std::array<option_spec, 3> import_specs{{{"data"}, {"data-dir"}, master_key_option}};
constexpr std::size_t errors_printed = 50;

int print_usage() {
  print_help(usage);
  return print_help(master_key_help);
}

int run_import(std::string_view file, const parsed_options& options) {
  if (options.value("data") && options.value("data-dir")) {
    return usage_error("users import takes --data or --data-dir, not both");
  }
  auto data_dir = options.value("data");
  if (!data_dir) data_dir = options.value("data-dir");
  if (!data_dir || data_dir->empty()) return usage_error("users import needs --data DIR");
  const fs::path dir(*data_dir);
  std::error_code ec;
  if (!fs::exists(dir / storage::database_dir_name / "CURRENT", ec)) {
    return runtime_error("no database in " + (dir / storage::database_dir_name).string() +
                         " (callsignd creates it on first start)");
  }
  const auto master_key = options.value(master_key_option.name);
  if (master_key && master_key->empty()) return usage_error("--master-key needs a file name");
  const auto ring_source = locate_key_ring(master_key, dir);
  if (!ring_source) return runtime_error(ring_source.error().message);
  auto ring = load_key_ring(*ring_source);
  if (!ring) return runtime_error(ring.error().message);
  auto input = line_input::open(fs::path(file));
  if (!input) return runtime_error(input.error().message);
  auto db = storage::database::open({dir / storage::database_dir_name, false});
  if (!db) {
    if (db.error().kind == error_kind::conflict) {
      return runtime_error("callsignd (or another tool) is using " + dir.string() +
                           ": stop callsignd and run 'callsign users import' again");
    }
    return runtime_error(db.error().message);
  }
  const storage::system_clock_source clock;
  auto writer = storage::group_commit_writer::start(**db, *ring, clock, {});
  if (!writer) return runtime_error("cannot start the writer: " + writer.error().message);
  // No blocking executor: a read that has to wait for the disk waits on this thread.
  storage::embedded_user_directory users(**db, **writer, {});

  // The import goes on here after each completion, never on the writer's thread.
  storage::blocking_pool import_thread(1, "callsign-import");
  server::import_options import;
  import.resume_on = import_thread.executor();
  import.now = clock.unix_seconds();
  import.sink = writer->get();
  import.summary.time = import.now;
  import.summary.actor_type = "system";
  import.summary.actor_id = "cli";
  import.summary.details.emplace_back("source", "cli");

  progress_display progress("users import", input->total_bytes());
  std::uint64_t lines_seen = 0;
  auto source = [&](std::string_view& line) {
    if (!input->next(line)) return false;
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
    progress.update(++lines_seen, input->bytes_read());
    return true;
  };
  std::promise<result<server::import_report>> finished;
  auto report_future = finished.get_future();
  // The import starts here and goes on on import_thread; completions only resume it.
  server::run_user_import(users, source, import,
                          [&finished](result<server::import_report> report) { finished.set_value(std::move(report)); });
  auto report = report_future.get();
  import_thread.stop();
  (*writer)->stop();
  progress.finish(lines_seen, input->bytes_read());
  if (input->failed()) return runtime_error("reading " + std::string(file) + " failed; the lines before were imported");
  if (!report) return runtime_error("import failed: " + report.error().message);
  for (std::size_t i = 0; i < report->errors.size() && i < errors_printed; ++i) {
    std::fprintf(stderr, "line %llu: %s\n", static_cast<unsigned long long>(report->errors[i].line),
                 report->errors[i].reason.message.c_str());
  }
  if (report->failed > errors_printed) {
    std::fprintf(stderr, "... and %llu more failed lines\n",
                 static_cast<unsigned long long>(report->failed - errors_printed));
  }
  std::printf("imported %llu lines: %llu created, %llu updated, %llu unchanged, %llu failed\n",
              static_cast<unsigned long long>(report->lines), static_cast<unsigned long long>(report->created),
              static_cast<unsigned long long>(report->updated), static_cast<unsigned long long>(report->unchanged),
              static_cast<unsigned long long>(report->failed));
  return report->failed == 0 ? exit_ok : exit_failure;
}

}  // namespace

int run_users_command(std::span<const std::string_view> args) {
  ::umask(077);  // whatever RocksDB creates here is owner-only too
  if (args.empty()) return usage_error("users needs a subcommand: import (see 'callsign users --help')");
  const std::string_view sub = args[0];
  if (sub == "--help" || sub == "-h") return print_usage();
  if (sub != "import") return usage_error("unknown users subcommand (import)");
  auto rest = args.subspan(1);
  for (auto arg : rest) {
    if (arg == "--help" || arg == "-h") return print_usage();
  }
  // FILE may come before or after the options; every option takes a value (--opt V or --opt=V).
  std::optional<std::size_t> file_at;
  for (std::size_t i = 0; i < rest.size(); ++i) {
    if (!rest[i].starts_with("--")) {
      file_at = i;
      break;
    }
    if (rest[i].find('=') == std::string_view::npos) ++i;  // skip the option's value
  }
  if (!file_at) return usage_error("users import needs a FILE (NDJSON, or - for stdin)");
  std::vector<std::string_view> option_args(rest.begin(), rest.end());
  option_args.erase(option_args.begin() + static_cast<std::ptrdiff_t>(*file_at));
  const auto options = parse_options(option_args, import_specs);
  if (!options) return usage_error(options.error().message);
  if (options->help_requested()) return print_usage();
  return run_import(rest[*file_at], *options);
}

}  // namespace callsign::cli
