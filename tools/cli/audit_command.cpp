// callsign audit verify|export: read the audit journal from a data directory, also while
// callsignd runs (the database is opened as a RocksDB secondary, never written). `audit prune`
// is audit_prune_command.cpp.
#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "argument_parser.hpp"
#include "command_table.hpp"
#include "key_ring_source.hpp"
#include "storage/audit_journal.hpp"
#include "storage/audit_links.hpp"
#include "storage/database.hpp"

namespace callsign::cli {
namespace {

constexpr std::string_view usage =
    "usage: callsign audit verify --data-dir DIR [--data-dir DIR ...] [--master-key FILE]\n"
    "       callsign audit export --data-dir DIR [--after SEQ]\n"
    "       callsign audit prune --data-dir DIR --before (UNIX_SECONDS|YYYY-MM-DD) [--master-key FILE]\n"
    "\n"
    "verify  walks the hash chain from entry 1 (or from the signed checkpoint a prune\n"
    "        left as the anchor of the first entry) and checks every signed checkpoint\n"
    "        (keys derived from callsignd's master key ring, see --master-key; one ring\n"
    "        for every DIR given). Prints one line; exits 0 when the\n"
    "        journal is intact, 1 naming the first bad sequence number otherwise.\n"
    "        With several --data-dir (one per node), checks each journal, then every\n"
    "        audit.link entry against the journal of the node it links: one line per\n"
    "        node, one per broken link, a summary; exits 1 on any break.\n"
    "export  prints the entries as JSON lines in ascending sequence order.\n"
    "prune   removes the entries up to the newest checkpoint whose entry was written\n"
    "        before --before (its signature checked under the key ring; a date is its\n"
    "        midnight UTC; not in the future), after checking every entry it removes\n"
    "        and chaining an audit.prune entry that declares it. A journal that does\n"
    "        not verify is not pruned (exit 1). While callsignd runs, the server\n"
    "        prunes (asked over DIR/control.sock); otherwise this command opens DIR/db.\n"
    "\n"
    "verify and export read DIR/db without writing to it, so they work while callsignd runs.\n"
    "\n"
    "  --data-dir DIR       callsignd's data directory (verify: repeatable)\n"
    "  --after SEQ          export only entries with a sequence number above SEQ\n"
    "  --before WHEN        prune: the cutoff, unix seconds or YYYY-MM-DD\n"
    "  --master-key FILE    verify, offline prune: the master key ring (mode 0600 or 0400).\n"
    "                       Without it: $CREDENTIALS_DIRECTORY/master.key when that file\n"
    "                       exists (the systemd credential callsignd reads), else\n"
    "                       DIR/master.key of each DIR\n";

constexpr std::array<option_spec, 2> export_specs{{{"data-dir"}, {"after"}}};
constexpr std::size_t export_page = 1000;
constexpr std::string_view data_dir_option = "--data-dir";
constexpr std::string_view master_key_flag = "--master-key";

result<std::unique_ptr<storage::database>> open_journal_database(std::string_view data_dir) {
  return storage::database::open_read_only(std::filesystem::path(data_dir) / "db");
}

// One data directory opened for verification: its key ring, database and journal.
struct opened_journal {
  std::string dir;
  crypto::key_ring ring;
  std::unique_ptr<storage::database> db;
  std::unique_ptr<storage::audit_journal> journal;
};

result<opened_journal> open_journal(std::string_view data_dir, std::optional<std::string_view> master_key) {
  const auto source = locate_key_ring(master_key, std::filesystem::path(data_dir));
  if (!source) return source.error();
  auto ring = load_key_ring(*source);
  if (!ring) return ring.error();
  auto db = open_journal_database(data_dir);
  if (!db) return db.error();
  auto journal = std::make_unique<storage::audit_journal>(**db);
  return opened_journal{std::string(data_dir), std::move(ring).value(), std::move(db).value(), std::move(journal)};
}

// "audit journal intact: ..." or "audit journal broken at seq N: ...".
std::string verification_line(const storage::audit_verification& report) {
  if (!report.intact) {
    return "audit journal broken at seq " + std::to_string(report.first_bad_seq) + ": " + report.reason;
  }
  std::string line = "audit journal intact: " + std::to_string(report.entries) + " entries";
  if (report.entries > 0) {
    line += " (seq " + std::to_string(report.pruned_through + 1) + ".." + std::to_string(report.last_seq) + ")";
  }
  if (report.pruned_through > 0) line += ", pruned through seq " + std::to_string(report.pruned_through);
  line += ", " + std::to_string(report.checkpoints) + " signed checkpoints";
  if (report.checkpoints > 0) line += " (last at seq " + std::to_string(report.last_checkpoint_seq) + ")";
  if (report.last_seq > report.last_checkpoint_seq) {
    line += ", " + std::to_string(report.last_seq - report.last_checkpoint_seq) + " entries after the last checkpoint";
  }
  return line;
}

int run_verify_one(std::string_view data_dir, std::optional<std::string_view> master_key) {
  const auto opened = open_journal(data_dir, master_key);
  if (!opened) return runtime_error(opened.error().message);
  const auto report = opened->journal->verify(opened->ring);
  if (!report) return runtime_error(report.error().message);
  std::printf("%s\n", verification_line(*report).c_str());
  return report->intact ? exit_ok : exit_failure;
}

// Several nodes' journals: each one alone, then the links between them (docs/audit.md).
int run_verify_several(std::span<const std::string_view> data_dirs, std::optional<std::string_view> master_key) {
  std::vector<opened_journal> opened;
  std::vector<storage::audit_journal_source> sources;
  for (const auto dir : data_dirs) {
    auto journal = open_journal(dir, master_key);
    if (!journal) return runtime_error(std::string(dir) + ": " + journal.error().message);
    opened.push_back(std::move(journal).value());
  }
  for (const auto& journal : opened) sources.push_back({journal.dir, journal.journal.get()});
  const auto links = storage::verify_audit_links(sources);
  if (!links) return runtime_error(links.error().message);
  bool intact = links->intact();
  for (std::size_t i = 0; i < opened.size(); ++i) {
    const auto report = opened[i].journal->verify(opened[i].ring);
    if (!report) return runtime_error(opened[i].dir + ": " + report.error().message);
    const auto& held = links->journals[i];
    const std::string name = held.node.empty() ? "journal without a node id" : "node " + held.node;
    std::string line = name + " (" + opened[i].dir + "): " + (report->intact ? "ok: " : "BROKEN: ") +
                       verification_line(*report) + "; holds " + std::to_string(held.links_held) + " links (" +
                       std::to_string(held.links_checked) + " checked here)";
    std::printf("%s\n", line.c_str());
    intact = intact && report->intact;
  }
  for (const auto& broken : links->broken) {
    std::printf("broken link: journal %s (node %s) entry %llu links node %s seq %llu: %s\n", broken.journal.c_str(),
                broken.holder_node.empty() ? "-" : broken.holder_node.c_str(),
                static_cast<unsigned long long>(broken.entry_seq),
                broken.linked_node.empty() ? "-" : broken.linked_node.c_str(),
                static_cast<unsigned long long>(broken.linked_seq), broken.reason.c_str());
  }
  for (const auto& problem : links->problems) std::printf("problem: %s\n", problem.c_str());
  std::string unchecked;
  for (const auto& node : links->unchecked_nodes) unchecked += (unchecked.empty() ? " (" : ", ") + node;
  if (!unchecked.empty()) unchecked += ")";
  std::printf("cross-links: %llu checked, %zu broken, %llu naming a node whose journal was not given%s",
              static_cast<unsigned long long>(links->links_checked), links->broken.size(),
              static_cast<unsigned long long>(links->links_unchecked), unchecked.c_str());
  if (links->links_pruned > 0) {
    std::printf(", %llu naming entries that node's retention pruned", static_cast<unsigned long long>(links->links_pruned));
  }
  std::printf("\n");
  return intact ? exit_ok : exit_failure;
}

// --data-dir may repeat for verify, which parse_options does not allow: take them out first.
int run_verify(std::span<const std::string_view> args) {
  std::vector<std::string_view> data_dirs;
  std::optional<std::string_view> master_key;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == data_dir_option) {
      if (i + 1 >= args.size()) return usage_error("--data-dir needs a value");
      data_dirs.push_back(args[++i]);
    } else if (args[i].starts_with("--data-dir=")) {
      data_dirs.push_back(args[i].substr(data_dir_option.size() + 1));
    } else if (args[i] == master_key_flag || args[i].starts_with("--master-key=")) {
      if (master_key) return usage_error("--master-key is given twice");
      if (args[i] == master_key_flag && i + 1 >= args.size()) return usage_error("--master-key needs a value");
      master_key = args[i] == master_key_flag ? args[++i] : args[i].substr(master_key_flag.size() + 1);
      if (master_key->empty()) return usage_error("--master-key needs a file name");
    } else {
      return usage_error(args[i].starts_with("--")
                             ? "unknown option " + std::string(args[i].substr(0, args[i].find('=')))
                             : "unexpected argument in position " + std::to_string(i + 1) + " (options start with --)");
    }
  }
  if (data_dirs.empty() || std::any_of(data_dirs.begin(), data_dirs.end(), [](auto d) { return d.empty(); })) {
    return usage_error("audit verify needs --data-dir");
  }
  return data_dirs.size() == 1 ? run_verify_one(data_dirs[0], master_key) : run_verify_several(data_dirs, master_key);
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
  if (args.empty()) {
    return usage_error("audit needs a subcommand: verify, export or prune (see 'callsign audit --help')");
  }
  const std::string_view sub = args[0];
  if (sub == "--help" || sub == "-h") return print_help(usage);
  const auto rest = args.subspan(1);
  if (std::any_of(rest.begin(), rest.end(), [](std::string_view a) { return a == "--help" || a == "-h"; })) {
    return print_help(usage);
  }
  if (sub == "verify") return run_verify(rest);
  if (sub == "prune") return run_audit_prune(rest);
  if (sub != "export") {
    return usage_error("unknown audit subcommand '" + std::string(sub) + "' (verify, export or prune)");
  }
  const auto options = parse_options(rest, export_specs);
  if (!options) return usage_error(options.error().message);
  return run_export(*options);
}

}  // namespace callsign::cli
