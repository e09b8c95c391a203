#include "server/lists/list_refresher.hpp"

#include <pthread.h>

#include <string>
#include <utility>

namespace callsign::server {

void report_list_outcome(json_log& log, storage::commit_sink* writer, const storage::clock& clock,
                         const list_reload_trigger& trigger, list_id id, const result<reload_outcome>& outcome,
                         audited_refusals* refusals) {
  const std::string name(list_name(id));
  if (!outcome) {
    log.warn("list reload failed; the previous version keeps serving",
             {{"list", name}, {"trigger", trigger.name}, {"error", outcome.error().message}});
  } else if (outcome->changed) {
    log.info("list reloaded", {{"list", name},
                               {"trigger", trigger.name},
                               {"version", outcome->status.version},
                               {"entries", outcome->status.entries},
                               {"sha256", outcome->status.sha256}});
  }
  if (refusals != nullptr) {
    if (outcome) {
      refusals->erase(id);
    } else {
      auto [known, added] = refusals->try_emplace(id, outcome.error().message);
      if (!added && known->second == outcome.error().message) return;  // audited already
      known->second = outcome.error().message;
    }
  }
  if (outcome && !outcome->changed && !trigger.audit_unchanged) return;
  auto audit = background_audit(clock, trigger.actor, "lists.reload",
                                !outcome ? "rejected" : outcome->changed ? "reloaded" : "unchanged");
  audit.details.emplace_back("list", name);
  audit.details.emplace_back("trigger", std::string(trigger.name));
  if (!outcome) {
    audit.details.emplace_back("error", outcome.error().message.substr(0, 512));
  } else {
    audit.details.emplace_back("version", std::to_string(outcome->status.version));
    audit.details.emplace_back("entries", std::to_string(outcome->status.entries));
    audit.details.emplace_back("sha256", outcome->status.sha256);
  }
  submit_background_audit(writer, log, std::move(audit));
}

void report_list_outcomes(json_log& log, storage::commit_sink* writer, const storage::clock& clock,
                          const list_reload_trigger& trigger,
                          const std::vector<std::pair<list_id, result<reload_outcome>>>& outcomes,
                          audited_refusals* refusals) {
  for (const auto& [id, outcome] : outcomes) {
    report_list_outcome(log, writer, clock, trigger, id, outcome, refusals);
  }
}

list_refresher::list_refresher(list_registry& registry, json_log& log, storage::commit_sink* writer,
                               const storage::clock& clock, std::chrono::milliseconds poll)
    : registry_(registry), log_(log), writer_(writer), clock_(clock), poll_(poll), thread_([this] { run(); }) {}

list_refresher::~list_refresher() {
  registry_.stop_fetches();  // a fetch in flight must not hold up the join
  {
    const std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void list_refresher::run() {
  pthread_setname_np(pthread_self(), "callsign-lists");  // in top -H and /proc/PID/task
  std::unique_lock lock(mutex_);
  while (!wake_.wait_for(lock, poll_, [this] { return stopping_; })) {
    lock.unlock();
    // Reported under the registry's reload lock, so the journal holds versions in order.
    (void)registry_.refresh_due([this](list_id id, const result<reload_outcome>& outcome) {
      report_list_outcome(log_, writer_, clock_, periodic_refresh, id, outcome, &refusals_);
    });
    lock.lock();
  }
}

}  // namespace callsign::server
