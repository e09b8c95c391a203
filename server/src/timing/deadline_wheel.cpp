#include "server/timing/deadline_wheel.hpp"

#include <algorithm>
#include <memory>
#include <utility>

namespace callsign::server {

void deadline_entry::set_due(std::int64_t due_ms) noexcept {
  due_.store(due_ms, std::memory_order_relaxed);
  deadline_wheel* list = list_;
  if (list != nullptr && due_ms != never && list->tick_of(due_ms) < filed_tick_.load(std::memory_order_relaxed)) {
    list->refile(*this);
  }
}

deadline_wheel::deadline_wheel(std::int64_t tick_ms, std::size_t slots)
    : tick_ms_(std::max<std::int64_t>(tick_ms, 1)), slots_(std::max<std::size_t>(slots, 2), nullptr) {}

std::int64_t deadline_wheel::tick_of(std::int64_t ms) const noexcept {
  return ms < 0 ? -1 : ms / tick_ms_;
}

void deadline_wheel::file(deadline_entry& entry) {
  const std::int64_t due = entry.due_.load(std::memory_order_relaxed);
  if (due == deadline_entry::never) {
    entry.filed_tick_.store(deadline_entry::never, std::memory_order_relaxed);
    return;  // not in any slot until a finite due refiles it
  }
  const auto span = static_cast<std::int64_t>(slots_.size());
  std::int64_t tick = tick_of(due);
  if (started_) {
    // Never behind the sweep (it would wait a whole turn), never beyond one turn ahead.
    tick = std::clamp(tick, swept_tick_ + 1, swept_tick_ + span);
  }
  auto& head = slots_[static_cast<std::size_t>(((tick % span) + span) % span)];
  entry.prev_ = nullptr;
  entry.next_ = head;
  if (head != nullptr) head->prev_ = &entry;
  head = &entry;
  entry.filed_tick_.store(tick, std::memory_order_relaxed);
}

void deadline_wheel::unlink(deadline_entry& entry) {
  const std::int64_t tick = entry.filed_tick_.load(std::memory_order_relaxed);
  if (tick == deadline_entry::never) return;
  const auto span = static_cast<std::int64_t>(slots_.size());
  if (entry.prev_ != nullptr) {
    entry.prev_->next_ = entry.next_;
  } else {
    slots_[static_cast<std::size_t>(((tick % span) + span) % span)] = entry.next_;
  }
  if (entry.next_ != nullptr) entry.next_->prev_ = entry.prev_;
  entry.prev_ = entry.next_ = nullptr;
  entry.filed_tick_.store(deadline_entry::never, std::memory_order_relaxed);
}

void deadline_wheel::add(deadline_entry& entry) {
  std::lock_guard lock(mutex_);
  if (entry.list_ != nullptr) return;
  entry.list_ = this;
  file(entry);
  ++size_;
}

void deadline_wheel::remove(deadline_entry& entry) {
  std::lock_guard lock(mutex_);
  if (entry.list_ != this) return;
  unlink(entry);
  entry.list_ = nullptr;
  --size_;
}

void deadline_wheel::refile(deadline_entry& entry) {
  std::lock_guard lock(mutex_);
  if (entry.list_ != this) return;
  unlink(entry);
  file(entry);
}

std::size_t deadline_wheel::sweep(std::int64_t now_ms) {
  // The owners on_deadline kept alive: released after the lock (deadline_entry::on_deadline).
  std::vector<std::shared_ptr<void>> kept;
  std::unique_lock lock(mutex_);
  const std::int64_t now_tick = tick_of(now_ms);
  const auto span = static_cast<std::int64_t>(slots_.size());
  // The slots of the ticks that passed, at most one whole turn (the first sweep, or a long gap).
  std::int64_t from = started_ ? swept_tick_ + 1 : now_tick - span + 1;
  from = std::max(from, now_tick - span + 1);
  deadline_entry* due_chain = nullptr;
  for (std::int64_t t = from; t <= now_tick; ++t) {
    auto& head = slots_[static_cast<std::size_t>(((t % span) + span) % span)];
    while (head != nullptr) {
      deadline_entry* e = head;
      unlink(*e);
      e->next_ = due_chain;  // a private chain: nothing else sees it while we hold the lock
      due_chain = e;
    }
  }
  if (!started_ || now_tick > swept_tick_) swept_tick_ = now_tick;
  started_ = true;
  std::size_t fired = 0;
  while (due_chain != nullptr) {
    deadline_entry* e = due_chain;
    due_chain = e->next_;
    e->next_ = nullptr;
    if (e->due_.load(std::memory_order_relaxed) <= now_ms) {
      e->due_.store(deadline_entry::never, std::memory_order_relaxed);
      if (auto owner = e->on_deadline()) kept.push_back(std::move(owner));
      ++fired;
    } else {
      file(*e);  // its deadline moved later: its slot now
    }
  }
  lock.unlock();
  kept.clear();  // may destroy an owner, whose destructor removes its entry under the lock
  return fired;
}

std::size_t deadline_wheel::size() const {
  std::lock_guard lock(mutex_);
  return size_;
}

}  // namespace callsign::server
