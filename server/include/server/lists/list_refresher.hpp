// The periodic refresh of the lists: a plain thread (no Asio in callsign_server) that asks the
// registry every `poll` which lists are due, by their refresh intervals and the injected clock.
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "server/lists/list_registry.hpp"
#include "server/observability/background_audit.hpp"
#include "server/observability/json_log.hpp"
#include "storage/change_set.hpp"
#include "storage/clock.hpp"

namespace callsign::server {

// Where a reload that no request carried came from: the log's `trigger`, the audit actor, and
// whether an attempt that changed nothing is audited too (an operator's SIGHUP: yes; the
// periodic refresh, which finds most lists unchanged: no).
struct list_reload_trigger {
  std::string_view name;
  background_actor actor;
  bool audit_unchanged;
};
inline constexpr list_reload_trigger sighup_reload{"SIGHUP", sighup_actor, true};
inline constexpr list_reload_trigger periodic_refresh{"refresh", refresh_actor, false};

// The refusal last audited per list. The refresh keeps one, so that a source that stays broken
// is audited once rather than at every interval (the log has a line each time).
using audited_refusals = std::map<list_id, std::string>;

// Logs each attempted reload (changed, unchanged, or the error: the old version keeps serving)
// and audits it as `lists.reload`, with the details POST /v1/admin/lists/{name}/reload records
// plus `trigger` (background_audit.hpp: nothing waits for the entry). `writer` may be null;
// with `refusals`, a refusal equal to the one last audited for its list is not audited again.
void report_list_outcome(json_log& log, storage::commit_sink* writer, const storage::clock& clock,
                         const list_reload_trigger& trigger, list_id id, const result<reload_outcome>& outcome,
                         audited_refusals* refusals = nullptr);
// The same for each outcome in turn. Called with a registry's ordered_report instead, the
// entries are journaled in version order (list_registry.hpp).
void report_list_outcomes(json_log& log, storage::commit_sink* writer, const storage::clock& clock,
                          const list_reload_trigger& trigger,
                          const std::vector<std::pair<list_id, result<reload_outcome>>>& outcomes,
                          audited_refusals* refusals = nullptr);

// Thread safety: construct and destroy on one thread; the refresh thread only calls the
// registry, the log and the writer (all thread-safe).
class list_refresher {
 public:
  list_refresher(list_registry& registry, json_log& log, storage::commit_sink* writer, const storage::clock& clock,
                 std::chrono::milliseconds poll);
  ~list_refresher();  // stops the registry's downloads in flight (a slow list server), then joins
  list_refresher(const list_refresher&) = delete;
  list_refresher& operator=(const list_refresher&) = delete;

 private:
  void run();

  list_registry& registry_;
  json_log& log_;
  storage::commit_sink* writer_;
  const storage::clock& clock_;
  audited_refusals refusals_;  // refresh thread only
  std::chrono::milliseconds poll_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace callsign::server
