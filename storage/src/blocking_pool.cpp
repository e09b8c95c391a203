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

void blocking_pool::post(std::function<void()> task) {
  {
    std::lock_guard lock(mutex_);
    if (!stopping_) {
      tasks_.push_back(std::move(task));
      ready_.notify_one();
      return;
    }
  }
  // Stopped: run it here rather than drop it (a completion must be called exactly once).
  tasks_run_.fetch_add(1, std::memory_order_relaxed);
  task();
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
    std::function<void()> task;
    {
      std::lock_guard lock(mutex_);
      if (tasks_.empty()) return;
      task = std::move(tasks_.front());
      tasks_.pop_front();
    }
    tasks_run_.fetch_add(1, std::memory_order_relaxed);
    task();
  }
}

void blocking_pool::run() {
  pthread_setname_np(pthread_self(), name_.c_str());
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock lock(mutex_);
      ready_.wait(lock, [this] { return stopping_ || !tasks_.empty(); });
      if (tasks_.empty()) return;  // stopping, and everything queued has run
      task = std::move(tasks_.front());
      tasks_.pop_front();
    }
    tasks_run_.fetch_add(1, std::memory_order_relaxed);
    task();
  }
}

}  // namespace callsign::storage
