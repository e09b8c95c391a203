// Every `callsign <command>`: add a row to commands() and a run function in its own file.
#pragma once

#include <span>
#include <string_view>

namespace callsign::cli {

// Receives the arguments after the command name; returns the process exit code
// (exit_ok, exit_failure for runtime failures, exit_usage for bad arguments).
using command_function = int (*)(std::span<const std::string_view> args);

struct command {
  std::string_view name;
  std::string_view summary;  // one line, shown by `callsign --help`
  command_function run;
};

std::span<const command> commands();
const command* find_command(std::string_view name);

int run_audit_command(std::span<const std::string_view> args);
int run_audit_prune(std::span<const std::string_view> args);  // `callsign audit prune` (audit_prune_command.cpp)
int run_backup_command(std::span<const std::string_view> args);
int run_keys_command(std::span<const std::string_view> args);
int run_restore_command(std::span<const std::string_view> args);
int run_breach_command(std::span<const std::string_view> args);
int run_code_command(std::span<const std::string_view> args);
int run_phone_token_command(std::span<const std::string_view> args);
int run_token_command(std::span<const std::string_view> args);
int run_users_command(std::span<const std::string_view> args);

}  // namespace callsign::cli
