// The admin console's fixed live series (docs/admin-console.md): their names are what the
// console's charts read.
#pragma once

#include "server/login/login_limits.hpp"
#include "server/observability/live_series.hpp"
#include "server/verification/verify_metrics.hpp"

namespace callsign::server {

// login_checks.{allow,block,challenge}, login.failures, blocks.new, matches.{open_proxy,
// exposed_credential} (from `login`, zero when it is null) and verify.{valid,invalid,replayed,
// throttled}. Both counters must outlive `live`.
void add_console_series(live_series& live, const login_metrics* login, const verify_metrics& verify);

}  // namespace callsign::server
