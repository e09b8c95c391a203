// What callsignd does for requests on its control socket (see control_socket.hpp).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "server/app_context.hpp"
#include "server/control/control_socket.hpp"

namespace callsign::server {

inline constexpr std::string_view control_command_backup = "backup";
inline constexpr std::string_view control_command_audit_prune = "audit-prune";

// "backup\t<absolute destination>": storage::write_backup of the server's own database and
// data dir, then an audit entry "backup.create" (actor admin/cli). Replies
// "ok\tfiles=<n> bytes=<n>" or "error\t<message>".
// "audit-prune\t<cutoff, unix seconds>": prune_audit (control/audit_pruning.hpp) as admin/cli.
// Replies "ok\tthrough=<seq> removed=<n> first=<seq>" (through=0: nothing was due) or
// "error\t<message>". Plain function: tested without a socket.
std::string handle_control_request(app_context& app, std::string_view request);

// Serves <data dir>/control.sock with handle_control_request. Returns null, after logging a
// warning, when the socket cannot be set up: the server still runs, but `callsign backup`
// then cannot reach it.
std::unique_ptr<control_socket> start_control_socket(app_context& app);

}  // namespace callsign::server
