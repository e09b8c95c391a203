#include "command_table.hpp"

#include <array>

namespace callsign::cli {
namespace {

constexpr std::array<command, 5> table{{
    {"audit", "verify the audit journal's hash chain and checkpoints, or export it as JSON lines", run_audit_command},
    {"breach", "build the exposed-credentials or exposed-passwords set file (build, import-hibp)",
     run_breach_command},
    {"code", "print the TOTP code for a base32 secret (like oathtool --totp)", run_code_command},
    {"phone-token", "print a user's phone token from the data directory's master key", run_phone_token_command},
    {"token", "print a bearer token (JWT) callsignd accepts, signed with its HS256 key", run_token_command},
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
