// callsign audit verify|export: read the audit journal from a data directory, also while
// callsignd runs (the database is opened as a RocksDB secondary, never written).
#include <array>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <string>

#include "argument_parser.hpp"
#include "command_table.hpp"
#include "storage/audit_journal.hpp"
#include "storage/database.hpp"
#include "storage/key_ring_file.hpp"

namespace callsign::cli {
namespace {

constexpr std::string_view usage =
    "usage: callsign audit verify --data-dir DIR\n"
    "       callsign audit export --data-dir DIR [--after SEQ]\n"
    "\n"
    "verify  walks the hash chain from entry 1 and checks every signed checkpoint\n"
    "        (keys derived from DIR/master.key). Prints one line; exits 0 when the\n"
    "        journal is intact, 1 naming the first bad sequence number otherwise.\n"
    "export  prints the entries as JSON lines in ascending sequence order.\n"
    "\n"
    "Both read DIR/db without writing to it, so they work while callsignd runs.\n"
    "\n"
    "  --data-dir DIR       callsignd's data directory\n"
    "  --after SEQ          export only entries with a sequence number above SEQ\n";

constexpr std::array<option_spec, 1> verify_specs{{{"data-dir"}}};
constexpr std::array<option_spec, 2> export_specs{{{"data-dir"}, {"after"}}};
constexpr std::size_t export_page = 1000;

result<std::unique_ptr<storage::database>> open_journal_database(std::string_view data_dir) {
  return storage::database::open_read_only(std::filesystem::path(data_dir) / "db");
}

int run_verify(const parsed_options& options) {
  const auto data_dir = options.value("data-dir");
  if (!data_dir || data_dir->empty()) return usage_error("audit verify needs --data-dir");
  const std::filesystem::path key_path = std::filesystem::path(*data_dir) / storage::key_ring_file_name;
  const auto ring = storage::load_key_ring(key_path);
  if (!ring) {
    if (ring.error().kind == error_kind::not_found) return runtime_error("no master key at " + key_path.string());
    return runtime_error(ring.error().message);
  }
  const auto db = open_journal_database(*data_dir);
  if (!db) return runtime_error(db.error().message);
  const auto report = storage::audit_journal(**db).verify(*ring);
  if (!report) return runtime_error(report.error().message);
  if (!report->intact) {
    std::printf("audit journal broken at seq %llu: %s\n", static_cast<unsigned long long>(report->first_bad_seq),
                report->reason.c_str());
    return exit_failure;
  }
  std::string line = "audit journal intact: " + std::to_string(report->entries) + " entries";
  if (report->entries > 0) line += " (seq 1.." + std::to_string(report->last_seq) + ")";
  line += ", " + std::to_string(report->checkpoints) + " signed checkpoints";
  if (report->checkpoints > 0) line += " (last at seq " + std::to_string(report->last_checkpoint_seq) + ")";
  if (report->last_seq > report->last_checkpoint_seq) {
    line +=
        ", " + std::to_string(report->last_seq - report->last_checkpoint_seq) + " entries after the last checkpoint";
  }
  std::printf("%s\n", line.c_str());
  return exit_ok;
}

int run_export(const parsed_options& options) {
  const auto data_dir = options.value("data-dir");
  if (!data_dir || data_dir->empty()) return usage_error("audit export needs --data-dir");
  const auto after = integer_option(options, "after", 0, std::numeric_limits<std::int64_t>::max());
  if (!after) return usage_error(after.error().message);
  const auto db = open_journal_database(*data_dir);
  if (!db) return runtime_error(db.error().message);
  const storage::audit_journal journal(**db);
  auto next = static_cast<std::uint64_t>(after->value_or(0));
  std::size_t page_size = export_page;
  for (;;) {
    const auto page = journal.after(next, page_size);
    if (!page) {
      // A damaged entry fails its whole page: go one by one to print every entry before it.
      if (page_size == 1) return runtime_error(page.error().message);
      page_size = 1;
      continue;
    }
    for (const auto& entry : *page) {
      const std::string line = storage::audit_entry_json(entry) + "\n";
      std::fwrite(line.data(), 1, line.size(), stdout);
      next = entry.seq;
    }
    if (page->size() < page_size) break;
  }
  if (std::fflush(stdout) != 0 || std::ferror(stdout) != 0) return runtime_error("cannot write to standard output");
  return exit_ok;
}

}  // namespace

int run_audit_command(std::span<const std::string_view> args) {
  if (args.empty()) return usage_error("audit needs a subcommand: verify or export (see 'callsign audit --help')");
  const std::string_view sub = args[0];
  if (sub == "--help" || sub == "-h") return print_help(usage);
  const bool verify = sub == "verify";
  if (!verify && sub != "export") {
    return usage_error("unknown audit subcommand '" + std::string(sub) + "' (verify or export)");
  }
  const auto options =
      verify ? parse_options(args.subspan(1), verify_specs) : parse_options(args.subspan(1), export_specs);
  if (!options) return usage_error(options.error().message);
  if (options->help_requested()) return print_help(usage);
  return verify ? run_verify(*options) : run_export(*options);
}

}  // namespace callsign::cli
