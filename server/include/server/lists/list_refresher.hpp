// The periodic refresh of the lists: a plain thread (no Asio in callsign_server) that asks the
// registry every `poll` which lists are due, by their refresh intervals and the injected clock.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "server/json_log.hpp"
#include "server/lists/list_registry.hpp"

namespace callsign::server {

// Logs each attempted reload: changed, unchanged, or the error (the old version keeps serving).
void log_list_outcomes(json_log& log, std::string_view trigger,
                       const std::vector<std::pair<list_id, result<reload_outcome>>>& outcomes);

// Thread safety: construct and destroy on one thread; the refresh thread only calls the
// registry (thread-safe) and the log (thread-safe).
class list_refresher {
 public:
  list_refresher(list_registry& registry, json_log& log, std::chrono::milliseconds poll);
  ~list_refresher();  // stops and joins
  list_refresher(const list_refresher&) = delete;
  list_refresher& operator=(const list_refresher&) = delete;

 private:
  void run();

  list_registry& registry_;
  json_log& log_;
  std::chrono::milliseconds poll_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace callsign::server
