// Audit entries for actions that no request carries: an operator's SIGHUP (lists and the TLS
// certificate reloaded) and the periodic list refresh. They go to the group-commit writer like
// every other entry, but nothing waits for them: there is no reply to hold back. A commit that
// fails is logged.
#pragma once

#include <string>
#include <string_view>

#include "server/observability/json_log.hpp"
#include "storage/audit_entry.hpp"
#include "storage/change_set.hpp"
#include "storage/clock.hpp"

namespace callsign::server {

// Who acted. SIGHUP is an operator's (admin) action; the refresh is the server's own (system).
struct background_actor {
  std::string_view type;
  std::string_view id;
};
inline constexpr background_actor sighup_actor{"admin", "sighup"};
inline constexpr background_actor refresh_actor{"system", "refresh"};

// An entry with the actor, action and outcome set and the time from `clock`; no subject,
// address or request id.
storage::audit_draft background_audit(const storage::clock& clock, background_actor actor, std::string action,
                                      std::string outcome);

// Submits `draft` alone; `writer` may be null (nothing is audited). Never blocks.
void submit_background_audit(storage::commit_sink* writer, json_log& log, storage::audit_draft draft);

}  // namespace callsign::server
