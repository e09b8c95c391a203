#include "server/control/audit_pruning.hpp"

#include <algorithm>

namespace callsign::server {

result<storage::audit_prune_report> prune_audit(app_context& app, std::int64_t cutoff,
                                                const storage::audit_prune_actor& actor,
                                                const std::function<bool()>& should_stop) {
  if (app.writer == nullptr) return make_error(error_kind::unavailable, "no audit writer");
  auto report =
      storage::prune_audit_journal(app.db, *app.writer, app.keys, cutoff, app.clock.unix_seconds(), actor, should_stop);
  if (!report) {
    app.log.warn("audit journal not pruned", {{"error", report.error().message}, {"actor", actor.id}});
    return report;
  }
  if (report->through > 0) {
    app.log.info("audit journal pruned", {{"through", static_cast<std::int64_t>(report->through)},
                                          {"removed", static_cast<std::int64_t>(report->removed)},
                                          {"prune_entry", static_cast<std::int64_t>(report->prune_entry)},
                                          {"actor", actor.id}});
  }
  return report;
}

std::chrono::seconds retention_interval(std::int64_t retention_seconds) noexcept {
  return std::chrono::seconds(std::clamp<std::int64_t>(retention_seconds / 10, 1, 3600));
}

}  // namespace callsign::server
