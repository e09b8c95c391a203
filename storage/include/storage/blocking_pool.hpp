// A few threads for storage work that may wait for the disk (a cold RocksDB read after a
// restart), so the server's I/O threads never do. The embedded backends take its post() as their
// blocking_executor. Plain std::thread: storage/ stays free of Asio.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace callsign::storage {

// Runs a task where it may wait for the disk; the task must run exactly once.
using blocking_executor = std::function<void(std::function<void()>)>;

// Thread-safety: post() from any thread. Tasks posted before stop() all run; stop() (or the
// destructor) waits for them, so whatever a task touches must outlive the pool.
class blocking_pool {
 public:
  // `name` is the threads' name in top -H (at most 15 bytes are kept).
  explicit blocking_pool(std::size_t threads, std::string name = "callsign-disk");
  ~blocking_pool();
  blocking_pool(const blocking_pool&) = delete;
  blocking_pool& operator=(const blocking_pool&) = delete;

  void post(std::function<void()> task);
  // The same, for the process's own upkeep (the user cache's warming at start): not a storage
  // call that had to wait, so not counted in tasks_run().
  void post_background(std::function<void()> task);
  blocking_executor executor() {
    return [this](std::function<void()> task) { post(std::move(task)); };
  }
  void stop();

  // Tasks run so far (GET /metrics: callsign_storage_disk_waits_total).
  std::uint64_t tasks_run() const noexcept { return tasks_run_.load(std::memory_order_relaxed); }

 private:
  void run();

  std::mutex mutex_;
  std::condition_variable ready_;
  struct queued {
    std::function<void()> task;
    bool counted = true;
  };
  void enqueue(queued item);
  void run_one(queued& item);

  std::deque<queued> tasks_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
  std::string name_;
  std::atomic<std::uint64_t> tasks_run_{0};
};

}  // namespace callsign::storage
