#include "server/stream/stream_hub.hpp"

#include <algorithm>
#include <utility>

#include "server/http/json_writer.hpp"

namespace callsign::server {

stream_subscriber::stream_subscriber(std::string user, std::size_t queue_limit, std::function<void()> wake)
    : user_(std::move(user)), queue_limit_(queue_limit), wake_(std::move(wake)) {}

void stream_subscriber::wake_if_needed(std::unique_lock<std::mutex>& lock) {
  if (woken_.load(std::memory_order_relaxed)) {
    return;
  }
  woken_.store(true, std::memory_order_release);
  lock.unlock();
  if (wake_) {
    wake_();
  }
}

void stream_subscriber::push_token(std::uint64_t step, stream_message message) {
  std::unique_lock lock(mutex_);
  if (token_ && token_step_ > step) {
    return;
  }
  token_ = std::move(message);
  token_step_ = step;
  wake_if_needed(lock);
}

void stream_subscriber::push_local_token(std::uint64_t step, stream_message message) {
  if (local_token_ && local_step_ > step) {
    return;
  }
  local_token_ = std::move(message);
  local_step_ = step;
}

bool stream_subscriber::push(stream_message message) {
  std::unique_lock lock(mutex_);
  if (overflowed_.load(std::memory_order_relaxed)) {
    return false;
  }
  if (queue_.size() >= queue_limit_) {
    overflowed_.store(true, std::memory_order_release);
    queue_.clear();
    queue_.shrink_to_fit();
    token_.reset();
    wake_if_needed(lock);
    return false;
  }
  queue_.push_back(std::move(message));
  wake_if_needed(lock);
  return true;
}

std::optional<stream_message> stream_subscriber::pop() {
  // Without a push from another thread since the last empty pop, only the local token can be
  // pending: no lock. A push that races with this check wakes the consumer again.
  if (woken_.load(std::memory_order_acquire)) {
    std::lock_guard lock(mutex_);
    if (!queue_.empty()) {
      auto next = std::move(queue_.front());
      queue_.erase(queue_.begin());  // at most stream.outbox_messages entries
      if (queue_.empty()) {
        queue_.shrink_to_fit();
      }
      return next;
    }
    if (token_) {
      // Only the newest token of the two is sent; the other is dropped.
      if (!local_token_ || token_step_ >= local_step_) {
        local_token_.reset();
        return std::exchange(token_, nullptr);
      }
      token_.reset();
    }
    woken_.store(false, std::memory_order_release);
  }
  if (local_token_) {
    return std::exchange(local_token_, nullptr);
  }
  return std::nullopt;
}

std::size_t stream_subscriber::queued() const {
  std::lock_guard lock(mutex_);
  return queue_.size() + (token_ ? 1 : 0);  // the local token is the consumer's own business
}

result<std::shared_ptr<stream_subscriber>> stream_hub::subscribe(std::string user, std::function<void()> wake) {
  std::lock_guard lock(mutex_);
  if (total_ >= limits_.max_total) {
    return make_error(error_kind::unavailable, "too many open streams");
  }
  auto& list = users_[user];
  if (list.size() >= limits_.max_per_user) {
    if (list.empty()) {
      users_.erase(user);
    }
    return make_error(error_kind::rate_limited, "too many open streams for this user");
  }
  auto subscriber = std::make_shared<stream_subscriber>(user, limits_.queue_limit, std::move(wake));
  list.push_back(subscriber);
  ++total_;
  subscriptions_.fetch_add(1, std::memory_order_release);
  return subscriber;
}

void stream_hub::unsubscribe(const std::shared_ptr<stream_subscriber>& subscriber) {
  if (!subscriber) {
    return;
  }
  std::lock_guard lock(mutex_);
  auto it = users_.find(subscriber->user());
  if (it == users_.end()) {
    return;
  }
  auto& list = it->second;
  auto found = std::find(list.begin(), list.end(), subscriber);
  if (found == list.end()) {
    return;
  }
  list.erase(found);
  --total_;
  if (list.empty()) {
    users_.erase(it);
  }
}

std::vector<std::shared_ptr<stream_subscriber>> stream_hub::streams_of(std::string_view user) const {
  std::lock_guard lock(mutex_);
  auto it = users_.find(user);
  if (it == users_.end()) {
    return {};
  }
  return it->second;
}

std::size_t stream_hub::publish(std::string_view user, const stream_message& message) {
  // Outboxes are filled outside the hub's lock, so a wake never runs under it.
  auto streams = streams_of(user);
  for (const auto& s : streams) {
    s->push(message);
  }
  return streams.size();
}

std::size_t stream_hub::publish_token(std::string_view user, std::uint64_t step, const stream_message& message) {
  auto streams = streams_of(user);
  for (const auto& s : streams) {
    s->push_token(step, message);
  }
  return streams.size();
}

void stream_hub::publish_verified(std::string_view user, std::string_view agent, std::string_view method,
                                  std::int64_t at) {
  if (size_of(user) == 0) {
    return;
  }
  publish(user, std::make_shared<const std::string>(stream_verified_message(agent, method, at)));
}

void stream_hub::publish_authenticator(std::string_view user, std::string_view state, std::int64_t at) {
  if (size_of(user) == 0) {
    return;
  }
  publish(user, std::make_shared<const std::string>(stream_authenticator_message(state, at)));
}

std::vector<std::string> stream_hub::users() const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> out;
  out.reserve(users_.size());
  for (const auto& [user, list] : users_) {
    out.push_back(user);
  }
  return out;
}

std::size_t stream_hub::size() const {
  std::lock_guard lock(mutex_);
  return total_;
}

std::size_t stream_hub::size_of(std::string_view user) const {
  std::lock_guard lock(mutex_);
  auto it = users_.find(user);
  return it == users_.end() ? 0 : it->second.size();
}

std::string stream_verified_message(std::string_view agent, std::string_view method, std::int64_t at) {
  json_writer json;
  json.begin_object()
      .field("type", std::string_view("verified"))
      .field("agent", agent)
      .field("method", method)
      .field("at", at)
      .end_object();
  return std::move(json).str();
}

std::string stream_authenticator_message(std::string_view state, std::int64_t at) {
  json_writer json;
  json.begin_object()
      .field("type", std::string_view("authenticator"))
      .field("state", state)
      .field("at", at)
      .end_object();
  return std::move(json).str();
}

std::string stream_error_message(std::string_view error) {
  json_writer json;
  json.begin_object().field("type", std::string_view("error")).field("error", error).end_object();
  return std::move(json).str();
}

std::string stream_token_message(std::string_view phone_token_object) {
  // phone_token_object is a JSON object; splice the type in front of its members.
  std::string out = R"({"type":"token")";
  if (phone_token_object.size() > 2) {
    out += ',';
  }
  out.append(phone_token_object.substr(1));
  return out;
}

}  // namespace callsign::server
