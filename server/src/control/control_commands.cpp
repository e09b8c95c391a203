#include "server/control/control_commands.hpp"

#include <charconv>
#include <future>

#include "server/control/audit_pruning.hpp"
#include "storage/data_dir_backup.hpp"

namespace callsign::server {
namespace {

std::string error_reply(std::string_view message) {
  std::string reply(control_reply_error);
  reply += '\t';
  for (char c : message) reply += (c == '\n' || c == '\t') ? ' ' : c;
  return reply;
}

// Commits one audit entry through the writer and waits for it to be durable.
result<void> commit_audit(app_context& app, storage::audit_draft draft) {
  if (app.writer == nullptr) return make_error(error_kind::unavailable, "no audit writer");
  storage::change_set change;
  change.add_audit(std::move(draft));
  auto done = std::make_shared<std::promise<result<storage::commit_receipt>>>();
  auto future = done->get_future();
  app.writer->submit(std::move(change),
                     [done](result<storage::commit_receipt> receipt) { done->set_value(std::move(receipt)); });
  auto receipt = future.get();
  if (!receipt) return receipt.error();
  return {};
}

std::string run_backup(app_context& app, std::string_view destination) {
  const std::filesystem::path dest(destination);
  if (destination.empty() || !dest.is_absolute()) return error_reply("the backup destination must be an absolute path");
  auto report = storage::write_backup(app.db, app.config.data_dir, dest, app.clock.unix_seconds());
  if (!report) {
    app.log.warn("backup failed", {{"error", report.error().message}});
    return error_reply(report.error().message);
  }
  storage::audit_draft audit;
  audit.time = app.clock.unix_seconds();
  audit.actor_type = "admin";
  audit.actor_id = "cli";
  audit.action = "backup.create";
  audit.outcome = "ok";
  audit.details = {{"files", std::to_string(report->files)}, {"bytes", std::to_string(report->bytes)}};
  if (auto audited = commit_audit(app, std::move(audit)); !audited) {
    app.log.warn("backup written but its audit entry failed", {{"error", audited.error().message}});
  }
  app.log.info("backup written", {{"files", report->files}, {"bytes", report->bytes}});
  return std::string(control_reply_ok) + "\tfiles=" + std::to_string(report->files) +
         " bytes=" + std::to_string(report->bytes);
}

std::string run_audit_prune(app_context& app, std::string_view argument) {
  std::int64_t cutoff = 0;
  const auto [end, ec] = std::from_chars(argument.data(), argument.data() + argument.size(), cutoff);
  if (ec != std::errc() || end != argument.data() + argument.size() || cutoff <= 0) {
    return error_reply("the prune cutoff must be unix seconds");
  }
  if (cutoff > app.clock.unix_seconds()) return error_reply("the prune cutoff is in the future");
  auto report = prune_audit(app, cutoff, {"admin", "cli"});
  if (!report) return error_reply(report.error().message);
  return std::string(control_reply_ok) + "\tthrough=" + std::to_string(report->through) +
         " removed=" + std::to_string(report->removed) + " first=" + std::to_string(report->first_seq);
}

}  // namespace

std::string handle_control_request(app_context& app, std::string_view request) {
  const std::size_t tab = request.find('\t');
  const std::string_view command = request.substr(0, tab);
  const std::string_view argument = tab == std::string_view::npos ? std::string_view() : request.substr(tab + 1);
  if (command == control_command_backup) return run_backup(app, argument);
  if (command == control_command_audit_prune) return run_audit_prune(app, argument);
  return error_reply("unknown control command (this server knows: backup, audit-prune)");
}

std::unique_ptr<control_socket> start_control_socket(app_context& app) {
  const auto path = app.config.data_dir / control_socket_file_name;
  auto socket =
      control_socket::start(path, [&app](std::string_view request) { return handle_control_request(app, request); });
  if (!socket) {
    app.log.warn("no control socket: callsign backup and audit prune cannot reach this server",
                 {{"error", socket.error().message}});
    return nullptr;
  }
  return std::move(socket).value();
}

}  // namespace callsign::server
