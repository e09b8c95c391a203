#include "server/observability/systemd_notify.hpp"

#include <systemd/sd-daemon.h>

namespace callsign::server {

// sd_notify returns 0 without $NOTIFY_SOCKET and a negative errno when the send fails; neither
// changes what callsignd does, so the result is not acted on. unset_environment = 0: the
// socket stays named for the STOPPING=1 notice at the end.
void notify_systemd_ready() {
  (void)sd_notify(0, "READY=1\nSTATUS=serving");
}

void notify_systemd_stopping() {
  (void)sd_notify(0, "STOPPING=1\nSTATUS=draining");
}

}  // namespace callsign::server
