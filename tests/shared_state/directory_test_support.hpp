// Fixtures of the Redis directory tests: a real redis-server in a temp dir (stopped by SIGTERM,
// exit status 0 required), a redis::client connected to it with the directory library loaded,
// a listener on cs:events of its own (a blocking socket and hiredis's redisReader, so the
// events are checked whatever the client's subscriber does), a commit sink that records (or
// refuses) the local journal's changes, and the two Redis directories over them.
#pragma once

#include <arpa/inet.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "redis/client.hpp"
#include "shared_state/directory_functions.hpp"
#include "shared_state/redis_authenticator_directory.hpp"
#include "shared_state/redis_user_directory.hpp"
#include "storage/change_set.hpp"
#include "support/redis_process.hpp"
#include "support/temp_directory.hpp"

namespace callsign::test {

// The local journal of a node, as the directories see it: records each submitted change, or
// fails every submit with `failure` when set. Answers inline.
// Thread-safety: one mutex; any thread.
class recording_sink final : public storage::commit_sink {
 public:
  void submit(storage::change_set changes, std::function<void(result<storage::commit_receipt>)> done) override {
    std::optional<error> refused;
    {
      std::lock_guard lock(mutex_);
      if (failure_) {
        refused = failure_;
      } else {
        committed_.push_back(std::move(changes));
      }
    }
    if (refused) {
      done(*refused);
    } else {
      done(storage::commit_receipt{});
    }
  }
  storage::group_commit_stats stats() const noexcept override { return {}; }

  void fail_with(std::optional<error> failure) {
    std::lock_guard lock(mutex_);
    failure_ = std::move(failure);
  }
  std::vector<storage::change_set> committed() const {
    std::lock_guard lock(mutex_);
    return committed_;
  }

 private:
  mutable std::mutex mutex_;
  std::optional<error> failure_;
  std::vector<storage::change_set> committed_;
};

// Messages received on the subscribed channels, in arrival order.
// Thread-safety: one mutex; the client's thread adds, the test waits.
class message_log {
 public:
  // Runs on every message before it is logged (a node's event handling); set before any arrives.
  std::function<void(const std::string&)> on_message;

  void add(std::string message) {
    if (on_message) on_message(message);
    {
      std::lock_guard lock(mutex_);
      messages_.push_back(std::move(message));
    }
    arrived_.notify_all();
  }
  // Waits (bounded) until at least `count` messages arrived; returns them all.
  std::vector<std::string> wait_for(std::size_t count, std::chrono::milliseconds bound = std::chrono::seconds(10)) {
    std::unique_lock lock(mutex_);
    arrived_.wait_for(lock, bound, [&] { return messages_.size() >= count; });
    return messages_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable arrived_;
  std::vector<std::string> messages_;
};

// SUBSCRIBE <channel> on a connection of its own; a thread adds each message to `log` until
// the listener goes (or the server closes the connection).
class event_listener {
 public:
  event_listener(std::uint16_t port, const std::string& channel, message_log& log) : log_(log) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    BOOST_REQUIRE(fd_ >= 0 && ::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    const std::string subscribe =
        "*2\r\n$9\r\nSUBSCRIBE\r\n$" + std::to_string(channel.size()) + "\r\n" + channel + "\r\n";
    BOOST_REQUIRE(::send(fd_, subscribe.data(), subscribe.size(), MSG_NOSIGNAL) ==
                  static_cast<ssize_t>(subscribe.size()));
    reader_ = redisReaderCreate();
    // The confirmation first: every write after this constructor is seen.
    auto confirmation = next();
    BOOST_REQUIRE(confirmation && confirmation->size() == 3 && (*confirmation)[0] == "subscribe");
    thread_ = std::thread([this] {
      while (auto message = next()) {
        if (message->size() == 3 && (*message)[0] == "message") log_.add((*message)[2]);
      }
    });
  }
  event_listener(const event_listener&) = delete;
  event_listener& operator=(const event_listener&) = delete;
  ~event_listener() {
    ::shutdown(fd_, SHUT_RDWR);  // ends the thread's recv
    thread_.join();
    ::close(fd_);
    redisReaderFree(reader_);
  }

 private:
  // The next push as its strings; nullopt once the connection ends.
  std::optional<std::vector<std::string>> next() {
    while (true) {
      void* raw = nullptr;
      if (redisReaderGetReply(reader_, &raw) != REDIS_OK) return std::nullopt;
      if (raw != nullptr) {
        auto* reply = static_cast<redisReply*>(raw);
        std::vector<std::string> parts;
        for (std::size_t i = 0; reply->type == REDIS_REPLY_ARRAY && i < reply->elements; ++i) {
          const redisReply* part = reply->element[i];
          parts.emplace_back(part->str != nullptr ? std::string(part->str, part->len) : std::to_string(part->integer));
        }
        freeReplyObject(reply);
        return parts;
      }
      char buffer[4096];
      const ssize_t got = ::recv(fd_, buffer, sizeof buffer, 0);
      if (got <= 0) return std::nullopt;
      redisReaderFeed(reader_, buffer, static_cast<std::size_t>(got));
    }
  }

  message_log& log_;
  int fd_ = -1;
  redisReader* reader_ = nullptr;
  std::thread thread_;
};

// Waits (bounded) until `ready` holds; false when it never did.
template <class Condition>
bool eventually(Condition ready, std::chrono::milliseconds bound = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + bound;
  while (!ready()) {
    if (std::chrono::steady_clock::now() > deadline) {
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // poll interval
  }
  return true;
}

// One node's Redis directories over a fresh redis-server.
struct redis_directories {
  explicit redis_directories(shared_state::directory_options options = {}, std::vector<std::string> extra_config = {},
                             std::size_t cache_entries = 0)
      : server(dir.path(), redis_process_options{.config_lines = std::move(extra_config)}),
        listener(server.port(), std::string(shared_state::directory_events_channel), events),
        client(connect(server.port())),
        user_dir(*client, sink, round_trips, options, cache_entries),
        authenticator_dir(*client, sink, round_trips, options, cache_entries) {}
  redis_directories(const redis_directories&) = delete;
  redis_directories& operator=(const redis_directories&) = delete;
  ~redis_directories() {
    client->stop();          // pending calls answered before the directories and the sink go
    if (server.running()) {  // the listener's connection ends with it
      BOOST_CHECK_EQUAL(server.stop(), 0);
    }
  }

  std::unique_ptr<redis::client> connect(std::uint16_t port) {
    redis::client_options options;
    options.address = {"127.0.0.1", port};
    redis::client_callbacks callbacks;
    callbacks.setup_commands = [](const redis::primary_info&) {
      return std::vector<redis::command>{shared_state::load_directory_library()};
    };
    auto started = redis::client::start(std::move(options), std::move(callbacks), {});
    BOOST_REQUIRE_MESSAGE(eventually([&] { return started->status().connected; }), "the client connected");
    return started;
  }

  temp_directory dir;
  redis_process server;
  recording_sink sink;
  message_log events;
  event_listener listener;
  shared_state::directory_round_trips round_trips;
  std::unique_ptr<redis::client> client;
  shared_state::redis_user_directory user_dir;
  shared_state::redis_authenticator_directory authenticator_dir;
  storage::user_directory& users = user_dir;
  storage::authenticator_directory& authenticators = authenticator_dir;
};

}  // namespace callsign::test
