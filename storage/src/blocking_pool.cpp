#include "storage/blocking_pool.hpp"

#include <pthread.h>

#include <algorithm>

namespace callsign::storage {

blocking_pool::blocking_pool(std::size_t threads, std::string name) : name_(std::move(name)) {
  if (name_.size() > 15) name_.resize(15);
  for (std::size_t i = 0; i < std::max<std::size_t>(threads, 1); ++i) {
    threads_.emplace_back([this] { run(); });
  }
}

blocking_pool::~blocking_pool() { stop(); }

void blocking_pool::post(std::function<void()> task) { enqueue({std::move(task), true}); }

void blocking_pool::post_background(std::function<void()> task) { enqueue({std::move(task), false}); }

void blocking_pool::enqueue(queued item) {
  {
    std::lock_guard lock(mutex_);
    if (!stopping_) {
      tasks_.push_back(std::move(item));
      ready_.notify_one();
      return;
    }
  }
  // Stopped: run it here rather than drop it (a completion must be called exactly once).
  run_one(item);
}

void blocking_pool::run_one(queued& item) {
  if (item.counted) tasks_run_.fetch_add(1, std::memory_order_relaxed);
  item.task();
}

void blocking_pool::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ && threads_.empty()) return;
    stopping_ = true;
  }
  ready_.notify_all();
  for (auto& thread : threads_) {
    if (thread.joinable()) thread.join();
  }
  threads_.clear();
  // Anything posted while stopping still runs, here.
  for (;;) {
    queued item;
    {
      std::lock_guard lock(mutex_);
      if (tasks_.empty()) return;
      item = std::move(tasks_.front());
      tasks_.pop_front();
    }
    run_one(item);
  }
}

void blocking_pool::run() {
  pthread_setname_np(pthread_self(), name_.c_str());
  for (;;) {
    queued item;
    {
      std::unique_lock lock(mutex_);
      ready_.wait(lock, [this] { return stopping_ || !tasks_.empty(); });
      if (tasks_.empty()) return;  // stopping, and everything queued has run
      item = std::move(tasks_.front());
      tasks_.pop_front();
    }
    run_one(item);
  }
}

}  // namespace callsign::storage
