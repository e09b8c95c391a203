#include "server/timing/state_sweeper.hpp"

#include <pthread.h>

namespace callsign::server {

state_sweeper::state_sweeper(const storage::clock& clock, std::chrono::milliseconds interval,
                             std::vector<sweep> sweeps)
    : clock_(clock), interval_(interval), sweeps_(std::move(sweeps)), thread_([this] { run(); }) {}

state_sweeper::~state_sweeper() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

std::uint64_t state_sweeper::rounds() const {
  std::lock_guard lock(mutex_);
  return rounds_;
}

std::uint64_t state_sweeper::dropped() const {
  std::lock_guard lock(mutex_);
  return dropped_;
}

void state_sweeper::run() {
  pthread_setname_np(pthread_self(), "callsign-sweep");
  std::unique_lock lock(mutex_);
  for (;;) {
    // The wait is on the steady clock: the injected clock only dates what expires.
    if (wake_.wait_for(lock, interval_, [this] { return stopping_; })) return;
    lock.unlock();
    std::size_t dropped = 0;
    for (const auto& s : sweeps_) dropped += s(clock_.unix_ms());
    lock.lock();
    ++rounds_;
    dropped_ += dropped;
  }
}

}  // namespace callsign::server
