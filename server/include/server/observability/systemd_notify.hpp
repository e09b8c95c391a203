// Readiness and stopping notices for systemd (Type=notify, docs/operations.md "Run under
// systemd"), through libsystemd's sd_notify. Without $NOTIFY_SOCKET (not started by systemd)
// every call does nothing.
#pragma once

namespace callsign::server {

// READY=1: every listener is bound and the lists are loaded, so systemd starts the units ordered
// after callsign.service only now. Thread-safety: callable from any thread.
void notify_systemd_ready();

// STOPPING=1: a SIGTERM/SIGINT started the drain (systemd then waits up to TimeoutStopSec).
void notify_systemd_stopping();

}  // namespace callsign::server
