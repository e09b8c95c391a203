// SIGHUP without sockets: what an operator's hangup reloads besides the TLS pair (which the
// session layer owns). Runs on the worker pool, never on an I/O thread.
#pragma once

namespace callsign::server {

struct app_context;

// Every list (and, on several nodes, asks the other nodes to reload them too), then the rule
// file; each outcome logged and audited (docs/operations.md, "SIGHUP"; docs/rules.md).
void reload_sources_on_hangup(app_context& app);

}  // namespace callsign::server
