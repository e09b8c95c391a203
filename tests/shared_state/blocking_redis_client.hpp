// A redis::client for tests that is independent of the real one (redis/): each exec opens a
// blocking loopback connection, sends the commands pipelined, reads every reply with hiredis's
// redisReader and closes. So the shared_state backends' tests run against a real redis-server
// whatever state the production client is in, and can count execs. `fail_next` makes the next
// exec answer an injected reply list (unexpected shapes) without touching Redis.
// Thread-safety: any thread; every exec has its own connection.
#pragma once

#include <arpa/inet.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "redis/client.hpp"

namespace callsign::test {

class blocking_redis_client final : public redis::client {
 public:
  explicit blocking_redis_client(std::uint16_t port) : port_(port) {}

  void exec(std::vector<redis::command> commands, storage::completion<std::vector<redis::reply>> done) override {
    execs_.fetch_add(1);
    {
      std::lock_guard lock(mutex_);
      if (injected_) {
        auto replies = std::move(*injected_);
        injected_.reset();
        done(std::move(replies));
        return;
      }
    }
    done(run(commands));
  }
  void send(redis::command cmd) override { (void)run({std::move(cmd)}); }
  redis::client_status status() const override { return {}; }
  std::uint64_t round_trips() const override { return execs_.load(); }
  void stop() override {}

  // The next exec answers these replies instead of asking Redis.
  void fail_next(std::vector<redis::reply> replies) {
    std::lock_guard lock(mutex_);
    injected_ = std::move(replies);
  }
  std::uint64_t execs() const { return execs_.load(); }

 private:
  result<std::vector<redis::reply>> run(const std::vector<redis::command>& commands) const {
    const auto down = make_error(error_kind::unavailable, "test client: no connection");
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return down;
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port_);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    std::unique_ptr<redisReader, void (*)(redisReader*)> reader(redisReaderCreate(), redisReaderFree);
    std::string out;
    for (const auto& args : commands) {
      out += "*" + std::to_string(args.size()) + "\r\n";
      for (const auto& arg : args) out += "$" + std::to_string(arg.size()) + "\r\n" + arg + "\r\n";
    }
    std::vector<redis::reply> replies;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::send(fd, out.data(), out.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(out.size())) {
      ::close(fd);
      return down;
    }
    char buffer[65536];
    while (replies.size() < commands.size()) {
      void* raw = nullptr;
      if (redisReaderGetReply(reader.get(), &raw) != REDIS_OK) break;
      if (raw) {
        replies.push_back(convert(static_cast<redisReply*>(raw)));
        freeReplyObject(raw);
        continue;
      }
      const ssize_t got = ::recv(fd, buffer, sizeof buffer, 0);
      if (got <= 0 || redisReaderFeed(reader.get(), buffer, static_cast<std::size_t>(got)) != REDIS_OK) break;
    }
    ::close(fd);
    if (replies.size() < commands.size()) return down;
    return replies;
  }

  static redis::reply convert(const redisReply* r) {
    redis::reply out;
    switch (r->type) {
      case REDIS_REPLY_INTEGER:
        out.type = redis::reply::kind::integer;
        out.integer = r->integer;
        break;
      case REDIS_REPLY_STRING:
      case REDIS_REPLY_STATUS:
      case REDIS_REPLY_ERROR:
        out.type = r->type == REDIS_REPLY_STRING   ? redis::reply::kind::string
                   : r->type == REDIS_REPLY_STATUS ? redis::reply::kind::status
                                                   : redis::reply::kind::error;
        out.text.assign(r->str, r->len);
        break;
      case REDIS_REPLY_ARRAY:
        out.type = redis::reply::kind::array;
        for (std::size_t i = 0; i < r->elements; ++i) out.elements.push_back(convert(r->element[i]));
        break;
      default:
        out.type = redis::reply::kind::nil;
    }
    return out;
  }

  std::uint16_t port_;
  std::atomic<std::uint64_t> execs_{0};
  std::mutex mutex_;
  std::optional<std::vector<redis::reply>> injected_;
};

}  // namespace callsign::test
