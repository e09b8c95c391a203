// Who is listening on GET /v1/stream, and what each listener still has to be sent. No Asio:
// the net layer gives every subscriber a `wake` function and drains its outbox on its strand.
// See docs/stream.md.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/result.hpp"
#include "server/timing/deadline_wheel.hpp"

namespace callsign::server {

// An encoded message; one token message is shared by every dashboard of its user.
using stream_message = std::shared_ptr<const std::string>;

// One subscribed connection's outbox: only the newest pending token (by step) plus a bounded
// queue of other messages. Overflowing the queue marks the subscriber for closing (a slow
// consumer never gets an unbounded queue).
// Thread-safety: push, push_token, queued and overflowed may be called from any thread (internal
// mutex); `wake` is called without any lock held, at most once until the consumer drains the
// outbox with pop(). pop and push_local_token belong to the consumer's thread alone: the
// step-boundary fan-out runs there (stream_fanout.hpp), so its tokens take no lock, and pop takes
// the lock only after a push from another thread.
class stream_subscriber {
 public:
  stream_subscriber(std::string user, std::size_t queue_limit, std::function<void()> wake);

  const std::string& user() const noexcept { return user_; }

  // Replaces the pending token unless the pending one is for a later step.
  void push_token(std::uint64_t step, stream_message message);
  // The same from the consumer's own thread, without the lock and without a wake (the consumer
  // drains right after it).
  void push_local_token(std::uint64_t step, stream_message message);
  // Queues a message; false (and marked for closing) when the queue is full.
  bool push(stream_message message);
  // The next message to send: queued messages first, then the pending token. Empty when
  // nothing is pending; the next push wakes the consumer again.
  std::optional<stream_message> pop();

  bool overflowed() const noexcept { return overflowed_.load(std::memory_order_acquire); }
  std::size_t queued() const;

 private:
  void wake_if_needed(std::unique_lock<std::mutex>& lock);

  const std::string user_;
  const std::size_t queue_limit_;
  const std::function<void()> wake_;
  mutable std::mutex mutex_;
  // A vector, not a deque: an empty libstdc++ deque already holds a 512-byte block, and a
  // queue here is almost always empty (docs/stream.md, "Memory").
  std::vector<stream_message> queue_;
  stream_message token_;
  std::uint64_t token_step_ = 0;
  // The consumer thread's own pending token (push_local_token); never touched by other threads.
  stream_message local_token_;
  std::uint64_t local_step_ = 0;
  // Written under the mutex, read without it. woken_: a push from another thread is not drained
  // yet (pop must take the lock), and no second wake is due until it is.
  std::atomic<bool> overflowed_{false};
  std::atomic<bool> woken_{false};
};

struct stream_limits {
  std::size_t max_per_user = 5;
  std::size_t max_total = 10'000;
  std::size_t queue_limit = 16;
};

// Subscribers per user, with caps per user and in total, and fan-out.
// Thread-safety: every member may be called from any thread (internal mutex); publishing never
// blocks on I/O, it only fills outboxes and calls the subscribers' wake functions.
class stream_hub {
 public:
  explicit stream_hub(stream_limits limits) : limits_(limits) {}

  // error_kind::rate_limited when the user already has max_per_user streams,
  // error_kind::unavailable when max_total streams are open.
  result<std::shared_ptr<stream_subscriber>> subscribe(std::string user, std::function<void()> wake);
  void unsubscribe(const std::shared_ptr<stream_subscriber>& subscriber);

  // {"type":"verified","agent":...,"method":...,"at":...} to every stream of `user`.
  void publish_verified(std::string_view user, std::string_view agent, std::string_view method, std::int64_t at);
  // {"type":"authenticator","state":...,"at":...} to every stream of `user` (never a secret or code).
  void publish_authenticator(std::string_view user, std::string_view state, std::int64_t at);
  // Any encoded message to every stream of `user`; returns how many streams got it.
  std::size_t publish(std::string_view user, const stream_message& message);
  // The user's token for `step`, shared by all of its streams.
  std::size_t publish_token(std::string_view user, std::uint64_t step, const stream_message& message);

  // Users with at least one stream (a snapshot, for the step-boundary timer).
  std::vector<std::string> users() const;
  // How many subscriptions were ever made: unchanged means nobody subscribed in between.
  std::uint64_t subscriptions() const noexcept { return subscriptions_.load(std::memory_order_acquire); }
  std::size_t size() const;
  std::size_t size_of(std::string_view user) const;

  // Shared, so that connections destroyed after the hub (at shutdown) can still leave the list.
  const std::shared_ptr<deadline_wheel>& deadlines() const noexcept { return deadlines_; }

 private:
  std::vector<std::shared_ptr<stream_subscriber>> streams_of(std::string_view user) const;

  const stream_limits limits_;
  mutable std::mutex mutex_;
  std::map<std::string, std::vector<std::shared_ptr<stream_subscriber>>, std::less<>> users_;
  std::size_t total_ = 0;
  std::atomic<std::uint64_t> subscriptions_{0};
  std::shared_ptr<deadline_wheel> deadlines_ = std::make_shared<deadline_wheel>();
};

// Message encoders (JSON text frames).
std::string stream_verified_message(std::string_view agent, std::string_view method, std::int64_t at);
std::string stream_authenticator_message(std::string_view state, std::int64_t at);
std::string stream_error_message(std::string_view error);
// {"type":"token", ...} from phone_token_json's {"token","step","expires_at","period"} object.
std::string stream_token_message(std::string_view phone_token_object);

}  // namespace callsign::server
