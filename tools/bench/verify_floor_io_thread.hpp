// verify_floor_server's I/O thread: accepts, parses HTTP/1.1 requests, appends one record per
// request to the shared group, and sends each reply once the writer has synced its group. See
// verify_floor_server.cpp.
#pragma once

#include <arpa/inet.h>

#include <deque>

#include "verify_floor_shared.hpp"

namespace verify_floor {

class io_thread {
 public:
  int epoll_fd = -1, listen_fd = -1, event_fd = -1;
  std::mutex done_mutex;
  std::vector<waiter> done;  // synced waiters, filled by the writer
  std::uint64_t answered = 0;

  void run(std::uint32_t index, std::size_t thread_count) {
    index_ = index;
    buffer_.resize(read_buffer_bytes);
    std::array<epoll_event, 256> events{};
    while (!stopping.load(std::memory_order_relaxed)) {
      const int n = epoll_wait(epoll_fd, events.data(), static_cast<int>(events.size()), -1);
      if (n < 0 && errno != EINTR) die("epoll_wait");
      for (int i = 0; i < n; ++i) {
        const auto& event = events[static_cast<std::size_t>(i)];
        const auto slot = static_cast<std::uint32_t>(event.data.u64);
        if (event.data.u64 == listener_tag) {
          accept_all();
        } else if (event.data.u64 == eventfd_tag) {
          complete();
        } else if (event.events & (EPOLLERR | EPOLLHUP)) {
          close_slot(slot);
        } else if (!(event.events & EPOLLOUT) || flush(slot)) {
          if (event.events & EPOLLIN) read_slot(slot);
        }
      }
      submit(thread_count);  // one lock per epoll round, not per request
    }
  }

 private:
  struct connection {
    int fd = -1;
    std::uint32_t generation = 0;
    bool want_output = false;  // EPOLLOUT armed
    bool dirty = false;        // responses queued in this completion round
    std::string in;            // unparsed tail between reads
    std::string out;           // responses the kernel has not taken yet
    std::deque<std::string> replies;  // --work: each request's reply, released in order when synced
    std::string peer;                 // --work: the client's address, for the audit entry
  };

  void accept_all() {
    for (;;) {
      sockaddr_in addr{};
      socklen_t addr_size = sizeof addr;
      const int fd = accept4(listen_fd, reinterpret_cast<sockaddr*>(&addr), &addr_size, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR || errno == ECONNABORTED) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) std::perror("verify_floor_server: accept4");
        return;  // EMFILE and the like: retried on the next readiness report
      }
      const int one = 1;
      if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0) die("TCP_NODELAY");
      if (free_slots_.empty()) {
        free_slots_.push_back(static_cast<std::uint32_t>(connections_.size()));
        connections_.emplace_back();
      }
      const std::uint32_t slot = free_slots_.back();
      free_slots_.pop_back();
      connections_[slot].fd = fd;
      char peer[INET_ADDRSTRLEN] = "";
      inet_ntop(AF_INET, &addr.sin_addr, peer, sizeof peer);
      connections_[slot].peer = peer;
      epoll_set(epoll_fd, EPOLL_CTL_ADD, fd, EPOLLIN, slot);
    }
  }

  void close_slot(std::uint32_t slot) {
    connection& c = connections_[slot];
    if (c.fd < 0) return;
    close(c.fd);  // also leaves the epoll set
    c.fd = -1;
    ++c.generation;  // completions still in flight for it are dropped
    c.want_output = false;
    c.in.clear();
    c.out.clear();
    c.replies.clear();
    free_slots_.push_back(slot);
  }

  // The kept partial request is copied in front of the new bytes, so the usual case (whole
  // requests per read) parses straight from the thread's buffer.
  void read_slot(std::uint32_t slot) {
    connection& c = connections_[slot];
    const std::size_t kept = c.in.size();
    std::memcpy(buffer_.data(), c.in.data(), kept);
    const ssize_t got = recv(c.fd, buffer_.data() + kept, buffer_.size() - kept, 0);
    if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
    if (got <= 0) return close_slot(slot);
    std::string_view data(buffer_.data(), kept + static_cast<std::size_t>(got));
    for (long used = 0; (used = parse_one(data, slot, c.generation)) != 0;) {
      if (used < 0) return close_slot(slot);
      data.remove_prefix(static_cast<std::size_t>(used));
    }
    c.in.assign(data);
  }

  // One request from the front of data: its length once complete (its record appended), 0 if
  // more bytes are needed, -1 if malformed.
  long parse_one(std::string_view data, std::uint32_t slot, std::uint32_t generation) {
    const std::size_t end = data.substr(0, max_header_bytes + 4).find("\r\n\r\n");
    if (end == std::string_view::npos) return data.size() >= max_header_bytes + 4 ? -1 : 0;
    std::string_view head = data.substr(0, end + 2);  // every line ends in "\r\n"
    std::size_t line_end = head.find("\r\n");
    const std::string_view request_line = head.substr(0, line_end);  // METHOD SP TARGET SP HTTP/1.x
    const std::size_t sp1 = request_line.find(' '), sp2 = request_line.rfind(' ');
    if (sp1 == 0 || sp1 == std::string_view::npos || sp2 <= sp1 + 1 || request_line.size() != sp2 + 9 ||
        request_line.substr(sp2 + 1, 7) != "HTTP/1.")
      return -1;
    std::size_t body_size = 0;
    bool have_length = false;
    std::string_view authorization;
    for (head.remove_prefix(line_end + 2); !head.empty(); head.remove_prefix(line_end + 2)) {
      line_end = head.find("\r\n");
      const std::string_view line = head.substr(0, line_end);
      const std::size_t colon = line.find(':');
      if (colon == 0 || colon == std::string_view::npos) return -1;
      if (iequals(line.substr(0, colon), "transfer-encoding")) return -1;  // never misframe a body
      if (iequals(line.substr(0, colon), "authorization")) authorization = trim(line.substr(colon + 1));
      if (!iequals(line.substr(0, colon), "content-length")) continue;
      const std::string_view value = trim(line.substr(colon + 1));
      if (value.empty() || value.size() > 5 || have_length) return -1;
      for (const char ch : value) {
        if (ch < '0' || ch > '9') return -1;
        body_size = body_size * 10 + static_cast<std::size_t>(ch - '0');
      }
      if (body_size > max_body_bytes) return -1;
      have_length = true;
    }
    const std::size_t total = end + 4 + body_size;
    if (data.size() < total) return 0;
    append_record(data.substr(end + 4, body_size), authorization, slot, generation);
    return static_cast<long>(total);
  }

  static std::string_view trim(std::string_view value) {
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
    return value;
  }

  void append_record(std::string_view body, std::string_view authorization, std::uint32_t slot,
                     std::uint32_t generation) {
    if (work != nullptr) {  // --work: the verify's own work, its draft for the writer
      connection& c = connections_[slot];
      work_item item;
      c.replies.push_back(work->handle(authorization, body, c.peer, (std::uint64_t{index_} << 48) | ++sequence_, item));
      batch_items_.push_back(std::move(item));
      batch_waiters_.push_back({slot, generation});
      return;
    }
    const std::size_t at = batch_.size();
    batch_.resize(at + record_bytes);  // zero-filled: the padding
    char* r = batch_.data() + at;
    put(r, std::uint32_t{0x31524c46});  // "FLR1"
    put(r + 4, index_);
    put(r + 8, ++sequence_);
    put(r + 16, slot);
    put(r + 20, generation);
    put(r + 24, static_cast<std::uint32_t>(body.size()));
    std::memcpy(r + record_header_bytes, body.data(), std::min(body.size(), record_body_bytes));
    checksum(r, record_header_bytes + record_body_bytes, r + record_header_bytes + record_body_bytes);
    batch_waiters_.push_back({slot, generation});
    if (spin_ns > 0) spin();
  }

  // Stands in for the per-request work a real endpoint adds (tokens, JSON, codes, an audit
  // entry): how much of it fits before the floor falls below a target.
  static void spin() {
    timespec start{}, now{};
    clock_gettime(CLOCK_MONOTONIC, &start);
    do {
      clock_gettime(CLOCK_MONOTONIC, &now);
    } while ((now.tv_sec - start.tv_sec) * 1000000000L + (now.tv_nsec - start.tv_nsec) < spin_ns);
  }

  void submit(std::size_t thread_count) {
    if (batch_waiters_.empty()) return;
    bool wake = false;
    {
      std::lock_guard lock(pending_mutex);
      if (pending.waiters.empty()) pending.waiters.resize(thread_count);
      pending.bytes.append(batch_);
      pending.items.insert(pending.items.end(), std::make_move_iterator(batch_items_.begin()),
                           std::make_move_iterator(batch_items_.end()));
      auto& mine = pending.waiters[index_];
      mine.insert(mine.end(), batch_waiters_.begin(), batch_waiters_.end());
      pending.records += batch_waiters_.size();
      wake = writer_sleeping;
      writer_sleeping = false;  // one notify however many threads submit before it runs
    }
    if (wake) writer_wake.notify_one();
    batch_.clear();
    batch_items_.clear();
    batch_waiters_.clear();
  }

  // The writer completes in append order, so each connection's responses go out in its
  // request order (pipelined ones too).
  void complete() {
    std::uint64_t count = 0;
    if (read(event_fd, &count, sizeof count) < 0 && errno != EAGAIN) die("read eventfd");
    {
      std::lock_guard lock(done_mutex);
      done_.swap(done);
    }
    for (const waiter& w : done_) {
      connection& c = connections_[w.slot];
      if (c.fd < 0 || c.generation != w.generation) continue;
      if (work != nullptr) {
        c.out.append(c.replies.front());
        c.replies.pop_front();
      } else {
        c.out.append(response);
      }
      ++answered;
      if (!c.dirty) dirty_.push_back(w.slot);
      c.dirty = true;
    }
    done_.clear();
    for (const std::uint32_t slot : dirty_) {
      connections_[slot].dirty = false;
      if (!connections_[slot].want_output) flush(slot);  // else EPOLLOUT sends it
    }
    dirty_.clear();
  }

  // One send of all queued responses; arms EPOLLOUT for what the kernel did not take (level-
  // triggered: it is reported until sent). False if the connection was closed.
  bool flush(std::uint32_t slot) {
    connection& c = connections_[slot];
    if (c.out.size() > max_output_bytes) return close_slot(slot), false;
    const ssize_t sent = c.out.empty() ? 0 : send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
    if (sent < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return close_slot(slot), false;
    c.out.erase(0, static_cast<std::size_t>(std::max<ssize_t>(sent, 0)));
    if (c.out.empty() == c.want_output) {
      c.want_output = !c.out.empty();
      epoll_set(epoll_fd, EPOLL_CTL_MOD, c.fd, c.want_output ? EPOLLIN | EPOLLOUT : EPOLLIN, slot);
    }
    return true;
  }

  std::uint32_t index_ = 0;
  std::uint64_t sequence_ = 0;
  std::vector<char> buffer_;
  std::vector<connection> connections_;
  std::vector<std::uint32_t> free_slots_;
  std::string batch_;  // this epoll round's records, submitted together
  std::vector<work_item> batch_items_;  // --work: the same round's audit drafts
  std::vector<waiter> batch_waiters_, done_;
  std::vector<std::uint32_t> dirty_;
};

}  // namespace verify_floor
