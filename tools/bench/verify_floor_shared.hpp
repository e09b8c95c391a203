// verify_floor_server's shared parts: limits, the fixed reply, the record layout, the group the
// I/O threads fill and the writer syncs, and the flags between them. See verify_floor_server.cpp.
#pragma once

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>
#include <unistd.h>
#include <memory>
#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "verify_floor_work.hpp"

namespace verify_floor {

constexpr std::size_t max_header_bytes = 8192;
constexpr std::size_t max_body_bytes = 8192;
constexpr std::size_t read_buffer_bytes = 64 * 1024;  // > the longest partial request + a read
constexpr std::size_t max_output_bytes = 4 << 20;     // a client that never reads is dropped
constexpr std::size_t record_header_bytes = 64;
constexpr std::size_t record_body_bytes = 256;
constexpr std::size_t record_bytes = record_header_bytes + record_body_bytes + 32;  // ~ an audit entry
constexpr std::uint64_t listener_tag = ~std::uint64_t{0};
constexpr std::uint64_t eventfd_tag = listener_tag - 1;

constexpr std::string_view response_body = R"({"valid":false,"method":null,"user":"floor-user-0"})";
inline const std::string response = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
                             std::to_string(response_body.size()) + "\r\n\r\n" + std::string(response_body);

[[noreturn]] inline void die(const char* what) {
  std::fprintf(stderr, "verify_floor_server: %s: %s\n", what, std::strerror(errno));
  std::exit(1);
}

inline void epoll_set(int epoll_fd, int op, int fd, std::uint32_t events, std::uint64_t tag) {
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = tag;
  if (epoll_ctl(epoll_fd, op, fd, &ev) != 0) die("epoll_ctl");
}

struct waiter {
  std::uint32_t slot;
  std::uint32_t generation;  // a closed and reused slot is not answered
};

// The group being filled: record bytes (or, with --work, the requests' audit drafts and state
// writes), and per I/O thread its waiters in append order.
struct group {
  std::string bytes;
  std::vector<work_item> items;
  std::vector<std::vector<waiter>> waiters;
  std::size_t records = 0;
};

inline std::atomic<bool> stopping{false};
inline long spin_ns = 0;  // --spin-ns: CPU burnt per request on its I/O thread (an experiment)
inline verify_work* work = nullptr;  // --work: each request does a verify's work (verify_floor_work.hpp)
inline std::mutex pending_mutex;
inline std::condition_variable writer_wake;
inline bool writer_sleeping = false;  // under pending_mutex: notify only a writer that waits
inline group pending;
inline std::uint64_t groups_synced = 0, records_synced = 0;  // the writer's, read after join

template <typename T>
void put(char* at, T value) { std::memcpy(at, &value, sizeof value); }

// Four interleaved FNV-1a lanes over 64-bit words: 32 bytes for ~40 multiplies. A torn-write
// check, not a crypto hash (callsignd's SHA-256 chain is user-space work the floor skips).
inline void checksum(const char* data, std::size_t size, char* out) {
  std::array<std::uint64_t, 4> lanes = {0xcbf29ce484222325u, 0x84222325cbf29ce4u, 0x9ce484222325cbf2u,
                                        0x2325cbf29ce48422u};
  for (std::size_t i = 0; i + 8 <= size; i += 8) {
    std::uint64_t word = 0;
    std::memcpy(&word, data + i, sizeof word);
    lanes[(i / 8) % 4] = (lanes[(i / 8) % 4] ^ word) * 0x100000001b3u;
  }
  std::memcpy(out, lanes.data(), 32);
}

inline bool iequals(std::string_view a, std::string_view lower) {
  return a.size() == lower.size() && std::equal(a.begin(), a.end(), lower.begin(), [](char x, char y) {
           return (x >= 'A' && x <= 'Z' ? static_cast<char>(x | 0x20) : x) == y;
         });
}

}  // namespace verify_floor
