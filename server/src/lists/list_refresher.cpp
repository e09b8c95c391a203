#include "server/lists/list_refresher.hpp"

#include <string>

namespace callsign::server {

void log_list_outcomes(json_log& log, std::string_view trigger,
                       const std::vector<std::pair<list_id, result<reload_outcome>>>& outcomes) {
  for (const auto& [id, outcome] : outcomes) {
    if (!outcome) {
      log.warn("list reload failed; the previous version keeps serving",
               {{"list", list_name(id)}, {"trigger", trigger}, {"error", outcome.error().message}});
    } else if (outcome->changed) {
      log.info("list reloaded", {{"list", list_name(id)},
                                 {"trigger", trigger},
                                 {"version", outcome->status.version},
                                 {"entries", outcome->status.entries},
                                 {"sha256", outcome->status.sha256}});
    }
  }
}

list_refresher::list_refresher(list_registry& registry, json_log& log, std::chrono::milliseconds poll)
    : registry_(registry), log_(log), poll_(poll), thread_([this] { run(); }) {}

list_refresher::~list_refresher() {
  {
    const std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void list_refresher::run() {
  std::unique_lock lock(mutex_);
  while (!wake_.wait_for(lock, poll_, [this] { return stopping_; })) {
    lock.unlock();
    log_list_outcomes(log_, "refresh", registry_.refresh_due());
    lock.lock();
  }
}

}  // namespace callsign::server
