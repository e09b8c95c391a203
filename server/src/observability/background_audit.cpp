#include "server/observability/background_audit.hpp"

#include <utility>

namespace callsign::server {

storage::audit_draft background_audit(const storage::clock& clock, background_actor actor, std::string action,
                                      std::string outcome) {
  storage::audit_draft draft;
  draft.time = clock.unix_seconds();
  draft.actor_type = std::string(actor.type);
  draft.actor_id = std::string(actor.id);
  draft.action = std::move(action);
  draft.outcome = std::move(outcome);
  return draft;
}

void submit_background_audit(storage::commit_sink* writer, json_log& log, storage::audit_draft draft) {
  if (writer == nullptr) return;
  std::string action = draft.action;
  storage::change_set change;
  change.add_audit(std::move(draft));
  writer->submit(std::move(change), [&log, action = std::move(action)](result<storage::commit_receipt> done) {
    if (!done) log.warn("audit entry not written", {{"action", action}, {"error", done.error().message}});
  });
}

}  // namespace callsign::server
