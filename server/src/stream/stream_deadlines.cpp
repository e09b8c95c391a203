#include "server/stream/stream_deadlines.hpp"

#include <algorithm>

namespace callsign::server {

namespace {
// valid_until in milliseconds, saturating (a token's exp may be anything up to the year 292e9).
std::int64_t expiry_ms(std::int64_t valid_until) noexcept {
  constexpr std::int64_t limit = INT64_MAX / 1000;
  return valid_until >= limit ? INT64_MAX : valid_until <= -limit ? -INT64_MAX : valid_until * 1000;
}
}  // namespace

bool stream_token_expired(std::int64_t valid_until, std::int64_t unix_now_ms) noexcept {
  return unix_now_ms >= expiry_ms(valid_until);
}

std::int64_t stream_expiry_due_ms(std::int64_t valid_until, std::int64_t unix_now_ms,
                                  std::int64_t steady_now_ms) noexcept {
  const std::int64_t at = expiry_ms(valid_until);
  if (at == INT64_MAX) {
    return stream_deadline::never;
  }
  if (unix_now_ms >= at) {
    return steady_now_ms;
  }
  std::int64_t left = 0;
  std::int64_t due = 0;
  if (__builtin_sub_overflow(at, unix_now_ms, &left) || __builtin_add_overflow(steady_now_ms, left, &due)) {
    return stream_deadline::never;  // further away than the clocks can count
  }
  return due;
}

void stream_deadline::set_due(std::int64_t due_ms) noexcept {
  due_.store(due_ms, std::memory_order_relaxed);
  stream_deadlines* list = list_;
  if (list != nullptr && due_ms != never && list->tick_of(due_ms) < filed_tick_.load(std::memory_order_relaxed)) {
    list->refile(*this);
  }
}

stream_deadlines::stream_deadlines(std::int64_t tick_ms, std::size_t slots)
    : tick_ms_(std::max<std::int64_t>(tick_ms, 1)), slots_(std::max<std::size_t>(slots, 2), nullptr) {}

std::int64_t stream_deadlines::tick_of(std::int64_t ms) const noexcept {
  return ms < 0 ? -1 : ms / tick_ms_;
}

void stream_deadlines::file(stream_deadline& entry) {
  const std::int64_t due = entry.due_.load(std::memory_order_relaxed);
  if (due == stream_deadline::never) {
    entry.filed_tick_.store(stream_deadline::never, std::memory_order_relaxed);
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

void stream_deadlines::unlink(stream_deadline& entry) {
  const std::int64_t tick = entry.filed_tick_.load(std::memory_order_relaxed);
  if (tick == stream_deadline::never) return;
  const auto span = static_cast<std::int64_t>(slots_.size());
  if (entry.prev_ != nullptr) {
    entry.prev_->next_ = entry.next_;
  } else {
    slots_[static_cast<std::size_t>(((tick % span) + span) % span)] = entry.next_;
  }
  if (entry.next_ != nullptr) entry.next_->prev_ = entry.prev_;
  entry.prev_ = entry.next_ = nullptr;
  entry.filed_tick_.store(stream_deadline::never, std::memory_order_relaxed);
}

void stream_deadlines::add(stream_deadline& entry) {
  std::lock_guard lock(mutex_);
  if (entry.list_ != nullptr) return;
  entry.list_ = this;
  file(entry);
  ++size_;
}

void stream_deadlines::remove(stream_deadline& entry) {
  std::lock_guard lock(mutex_);
  if (entry.list_ != this) return;
  unlink(entry);
  entry.list_ = nullptr;
  --size_;
}

void stream_deadlines::refile(stream_deadline& entry) {
  std::lock_guard lock(mutex_);
  if (entry.list_ != this) return;
  unlink(entry);
  file(entry);
}

std::size_t stream_deadlines::sweep(std::int64_t now_ms) {
  std::lock_guard lock(mutex_);
  const std::int64_t now_tick = tick_of(now_ms);
  const auto span = static_cast<std::int64_t>(slots_.size());
  // The slots of the ticks that passed, at most one whole turn (the first sweep, or a long gap).
  std::int64_t from = started_ ? swept_tick_ + 1 : now_tick - span + 1;
  from = std::max(from, now_tick - span + 1);
  stream_deadline* due_chain = nullptr;
  for (std::int64_t t = from; t <= now_tick; ++t) {
    auto& head = slots_[static_cast<std::size_t>(((t % span) + span) % span)];
    while (head != nullptr) {
      stream_deadline* e = head;
      unlink(*e);
      e->next_ = due_chain;  // a private chain: nothing else sees it while we hold the lock
      due_chain = e;
    }
  }
  if (!started_ || now_tick > swept_tick_) swept_tick_ = now_tick;
  started_ = true;
  std::size_t fired = 0;
  while (due_chain != nullptr) {
    stream_deadline* e = due_chain;
    due_chain = e->next_;
    e->next_ = nullptr;
    if (e->due_.load(std::memory_order_relaxed) <= now_ms) {
      e->due_.store(stream_deadline::never, std::memory_order_relaxed);
      e->on_deadline();
      ++fired;
    } else {
      file(*e);  // its deadline moved later: its slot now
    }
  }
  return fired;
}

std::size_t stream_deadlines::size() const {
  std::lock_guard lock(mutex_);
  return size_;
}

}  // namespace callsign::server
