// callsign audit prune: removes the audit journal's entries signed before a date (docs/audit.md,
// "Retention"). While callsignd runs, the server prunes (asked over DIR/control.sock, so the
// audit.prune entry is chained by its own writer); otherwise this command opens DIR/db itself.
#include <sys/stat.h>

#include <array>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>

#include "argument_parser.hpp"
#include "command_table.hpp"
#include "key_ring_source.hpp"
#include "server/control/control_commands.hpp"
#include "server/control/control_socket.hpp"
#include "storage/audit_journal.hpp"
#include "storage/audit_retention.hpp"
#include "storage/clock.hpp"
#include "storage/data_dir_backup.hpp"
#include "storage/database.hpp"
#include "storage/group_commit_writer.hpp"

namespace callsign::cli {
namespace {

namespace fs = std::filesystem;

constexpr std::array<option_spec, 3> prune_specs{{{"data-dir"}, {"before"}, {"master-key"}}};
constexpr std::chrono::seconds server_prune_timeout{3600};

// --before: unix seconds, or a date YYYY-MM-DD (its midnight, UTC).
result<std::int64_t> parse_cutoff(std::string_view text) {
  const auto bad = make_error(error_kind::invalid_input, "--before must be unix seconds or a date YYYY-MM-DD");
  std::int64_t seconds = 0;
  if (auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), seconds);
      ec == std::errc() && end == text.data() + text.size()) {
    if (seconds <= 0) return bad;
    return seconds;
  }
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return bad;
  int parts[3] = {0, 0, 0};
  const std::string_view fields[3] = {text.substr(0, 4), text.substr(5, 2), text.substr(8, 2)};
  for (int i = 0; i < 3; ++i) {
    auto [end, ec] = std::from_chars(fields[i].data(), fields[i].data() + fields[i].size(), parts[i]);
    if (ec != std::errc() || end != fields[i].data() + fields[i].size()) return bad;
  }
  const std::chrono::year_month_day day{std::chrono::year(parts[0]), std::chrono::month(static_cast<unsigned>(parts[1])),
                                        std::chrono::day(static_cast<unsigned>(parts[2]))};
  if (!day.ok() || parts[0] < 1970) return bad;
  return static_cast<std::int64_t>(std::chrono::sys_seconds(std::chrono::sys_days(day)).time_since_epoch().count());
}

int print_report(const storage::audit_prune_report& report, std::string_view by) {
  if (report.through == 0) {
    std::printf("audit journal: nothing to prune%.*s (no signed checkpoint before the cutoff past the first entry)\n",
                static_cast<int>(by.size()), by.data());
    return exit_ok;
  }
  std::printf("audit journal pruned%.*s through seq %llu: %llu entries removed, the journal starts at seq %llu\n",
              static_cast<int>(by.size()), by.data(), static_cast<unsigned long long>(report.through),
              static_cast<unsigned long long>(report.removed), static_cast<unsigned long long>(report.first_seq));
  return exit_ok;
}

int prune_offline(const fs::path& dir, std::int64_t cutoff, std::optional<std::string_view> master_key) {
  const auto source = locate_key_ring(master_key, dir);
  if (!source) return runtime_error(source.error().message);
  auto ring = load_key_ring(*source);
  if (!ring) return runtime_error(ring.error().message);
  auto db = storage::database::open({dir / storage::database_dir_name, false});
  if (!db) {
    if (db.error().kind == error_kind::conflict) {
      return runtime_error("callsignd holds " + (dir / storage::database_dir_name).string() + " but " +
                           (dir / server::control_socket_file_name).string() +
                           " does not answer: pruning needs the running server's control socket");
    }
    return runtime_error(db.error().message);
  }
  const storage::system_clock_source clock;
  // A node of a cluster stamps its entries with its id: the prune entry and the final checkpoint
  // carry the one its newest entry names, as callsignd would.
  storage::group_commit_options options;
  const storage::audit_journal journal(**db);
  auto last = journal.last_sequence();
  if (!last) return runtime_error(last.error().message);
  if (*last > 0) {
    auto newest = journal.at(*last);
    if (!newest) return runtime_error(newest.error().message);
    if (newest->has_value()) options.node_id = (*newest)->node;
  }
  auto writer = storage::group_commit_writer::start(**db, *ring, clock, std::move(options));
  if (!writer) return runtime_error(writer.error().message);
  auto report = storage::prune_audit_journal(**db, **writer, *ring, cutoff, clock.unix_seconds(), {"admin", "cli"});
  (*writer)->stop();
  if (!report) return runtime_error("prune failed: " + report.error().message);
  return print_report(*report, "");
}

int run_prune(const parsed_options& options) {
  const auto data_dir = options.value("data-dir");
  const auto before = options.value("before");
  if (!data_dir || data_dir->empty()) return usage_error("audit prune needs --data-dir");
  if (!before || before->empty()) return usage_error("audit prune needs --before");
  const auto cutoff = parse_cutoff(*before);
  if (!cutoff) return usage_error(cutoff.error().message);
  if (*cutoff > storage::system_clock_source{}.unix_seconds()) {
    return usage_error("--before is in the future: nothing signed after now can be pruned");
  }
  const auto master_key = options.value("master-key");
  if (master_key && master_key->empty()) return usage_error("--master-key needs a file name");
  const fs::path dir(*data_dir);
  std::error_code ec;
  if (!fs::exists(dir / storage::database_dir_name / "CURRENT", ec)) {
    return runtime_error("no database in " + (dir / storage::database_dir_name).string());
  }
  const std::string request = std::string(server::control_command_audit_prune) + "\t" + std::to_string(*cutoff);
  auto reply = server::send_control_request(dir / server::control_socket_file_name, request, server_prune_timeout);
  if (!reply) {
    if (reply.error().kind == error_kind::not_found) return prune_offline(dir, *cutoff, master_key);
    return runtime_error(reply.error().message);
  }
  const std::string_view text = *reply;
  const std::size_t tab = text.find('\t');
  const std::string_view status = text.substr(0, tab);
  const std::string detail(tab == std::string_view::npos ? std::string_view() : text.substr(tab + 1));
  if (status != server::control_reply_ok) return runtime_error("callsignd could not prune: " + detail);
  unsigned long long through = 0;
  unsigned long long removed = 0;
  unsigned long long first = 0;
  if (std::sscanf(detail.c_str(), "through=%llu removed=%llu first=%llu", &through, &removed, &first) != 3) {
    return runtime_error("callsignd answered something unexpected: " + detail);
  }
  return print_report({through, removed, first, 0}, " by callsignd");
}

}  // namespace

int run_audit_prune(std::span<const std::string_view> args) {
  ::umask(077);  // whatever RocksDB creates here is owner-only, as callsignd's own files
  const auto options = parse_options(args, prune_specs);
  if (!options) return usage_error(options.error().message);
  return run_prune(*options);
}

}  // namespace callsign::cli
