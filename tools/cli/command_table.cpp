#include "command_table.hpp"

#include <array>

namespace callsign::cli {
namespace {

constexpr std::array<command, 9> table{{
    {"audit", "verify the audit journal's hash chain and checkpoints, export it as JSON lines, or prune its oldest entries", run_audit_command},
    {"backup", "write a consistent backup of a data directory, also while callsignd runs", run_backup_command},
    {"breach", "build the exposed-credentials or exposed-passwords set file (build, import-hibp)",
     run_breach_command},
    {"code", "print the TOTP code for a base32 secret (like oathtool --totp)", run_code_command},
    {"keys", "rotate the master key and re-seal stored authenticator secrets (callsignd stopped)", run_keys_command},
    {"phone-token", "print a user's phone token from the data directory's master key", run_phone_token_command},
    {"restore", "restore a backup into a new data directory", run_restore_command},
    {"token", "print a bearer token (JWT) callsignd accepts, signed with its HS256 key", run_token_command},
    {"users", "import users from an NDJSON file into a stopped server's data directory", run_users_command},
}};

}  // namespace

std::span<const command> commands() {
  return table;
}

const command* find_command(std::string_view name) {
  for (const command& candidate : table) {
    if (candidate.name == name) return &candidate;
  }
  return nullptr;
}

}  // namespace callsign::cli
