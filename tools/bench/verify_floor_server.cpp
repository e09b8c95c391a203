// The "floor" peer of tools/bench/verify (not a test): the least work any server must do here to
// answer an HTTP/1.1 keep-alive request only after a record of it is fdatasync'ed, with group
// commit. It does none of callsignd's work (no TOTP, JSON, RocksDB or hash chain), so its
// throughput bounds what a durable verify endpoint can reach on this machine.
//
//   verify_floor_server --port-file PATH (--log FILE [--wal-bytes N] | --rocksdb DIR) [--io-threads N]
//                       [--spin-ns N]
//
// N I/O threads, each with its own SO_REUSEPORT listener and level-triggered epoll (one recv or
// send per readiness report; no extra call to see EAGAIN), parse requests and append one
// 352-byte record each to a shared group, once per epoll round. One writer thread writes a
// group with one pwrite, fdatasyncs, then hands its waiters back to their I/O threads through
// an eventfd; only then is the 200 sent. With --rocksdb DIR the writer instead puts the group's
// records into a RocksDB database (default options, one key per record) with one synced Write:
// the floor on the stack callsignd must use, whose WAL grows, so each sync also writes its size.
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

namespace {

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
const std::string response = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
                             std::to_string(response_body.size()) + "\r\n\r\n" + std::string(response_body);

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "verify_floor_server: %s: %s\n", what, std::strerror(errno));
  std::exit(1);
}

void epoll_set(int epoll_fd, int op, int fd, std::uint32_t events, std::uint64_t tag) {
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = tag;
  if (epoll_ctl(epoll_fd, op, fd, &ev) != 0) die("epoll_ctl");
}

struct waiter {
  std::uint32_t slot;
  std::uint32_t generation;  // a closed and reused slot is not answered
};

// The group being filled: record bytes, and per I/O thread its waiters in append order.
struct group {
  std::string bytes;
  std::vector<std::vector<waiter>> waiters;
  std::size_t records = 0;
};

std::atomic<bool> stopping{false};
long spin_ns = 0;  // --spin-ns: CPU burnt per request on its I/O thread (an experiment)
std::mutex pending_mutex;
std::condition_variable writer_wake;
bool writer_sleeping = false;  // under pending_mutex: notify only a writer that waits
group pending;
std::uint64_t groups_synced = 0, records_synced = 0;  // the writer's, read after join

template <typename T>
void put(char* at, T value) { std::memcpy(at, &value, sizeof value); }

// Four interleaved FNV-1a lanes over 64-bit words: 32 bytes for ~40 multiplies. A torn-write
// check, not a crypto hash (callsignd's SHA-256 chain is user-space work the floor skips).
void checksum(const char* data, std::size_t size, char* out) {
  std::array<std::uint64_t, 4> lanes = {0xcbf29ce484222325u, 0x84222325cbf29ce4u, 0x9ce484222325cbf2u,
                                        0x2325cbf29ce48422u};
  for (std::size_t i = 0; i + 8 <= size; i += 8) {
    std::uint64_t word = 0;
    std::memcpy(&word, data + i, sizeof word);
    lanes[(i / 8) % 4] = (lanes[(i / 8) % 4] ^ word) * 0x100000001b3u;
  }
  std::memcpy(out, lanes.data(), 32);
}

bool iequals(std::string_view a, std::string_view lower) {
  return a.size() == lower.size() && std::equal(a.begin(), a.end(), lower.begin(), [](char x, char y) {
           return (x >= 'A' && x <= 'Z' ? static_cast<char>(x | 0x20) : x) == y;
         });
}

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
  };

  void accept_all() {
    for (;;) {
      const int fd = accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
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
    for (head.remove_prefix(line_end + 2); !head.empty(); head.remove_prefix(line_end + 2)) {
      line_end = head.find("\r\n");
      const std::string_view line = head.substr(0, line_end);
      const std::size_t colon = line.find(':');
      if (colon == 0 || colon == std::string_view::npos) return -1;
      if (iequals(line.substr(0, colon), "transfer-encoding")) return -1;  // never misframe a body
      if (!iequals(line.substr(0, colon), "content-length")) continue;
      std::string_view value = line.substr(colon + 1);
      while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
      while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
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
    append_record(data.substr(end + 4, body_size), slot, generation);
    return static_cast<long>(total);
  }

  void append_record(std::string_view body, std::uint32_t slot, std::uint32_t generation) {
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
      auto& mine = pending.waiters[index_];
      mine.insert(mine.end(), batch_waiters_.begin(), batch_waiters_.end());
      pending.records += batch_waiters_.size();
      wake = writer_sleeping;
      writer_sleeping = false;  // one notify however many threads submit before it runs
    }
    if (wake) writer_wake.notify_one();
    batch_.clear();
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
      c.out.append(response);
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
  std::vector<waiter> batch_waiters_, done_;
  std::vector<std::uint32_t> dirty_;
};

// pwrite all of data at offset, wrapping to 0 where it would pass wal_bytes: one call per group
// unless the kernel writes short or a group is larger than the whole log.
void write_wrapped(int fd, std::string_view data, std::size_t& offset, std::size_t wal_bytes) {
  while (!data.empty()) {
    if (offset >= wal_bytes || (offset != 0 && offset + data.size() > wal_bytes)) offset = 0;
    const ssize_t n = pwrite(fd, data.data(), std::min(data.size(), wal_bytes - offset), static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) die("pwrite");
    offset += static_cast<std::size_t>(n);
    data.remove_prefix(static_cast<std::size_t>(n));
  }
}

// One synced RocksDB write of the group's records, keyed by a big-endian sequence number.
void write_rocksdb(rocksdb::DB& db, std::string_view data, std::uint64_t& sequence) {
  rocksdb::WriteBatch batch;
  for (std::size_t at = 0; at + record_bytes <= data.size(); at += record_bytes) {
    char key[8];
    for (int i = 0; i < 8; ++i) key[i] = static_cast<char>(sequence >> (56 - 8 * i));
    ++sequence;
    batch.Put(rocksdb::Slice(key, sizeof key), rocksdb::Slice(data.data() + at, record_bytes));
  }
  rocksdb::WriteOptions options;
  options.sync = true;
  const auto status = db.Write(options, &batch);
  if (!status.ok()) {
    std::fprintf(stderr, "verify_floor_server: rocksdb write: %s\n", status.ToString().c_str());
    std::exit(1);
  }
}

void writer_run(int log_fd, std::size_t wal_bytes, rocksdb::DB* db, std::vector<io_thread>& threads) {
  group taken;
  std::size_t offset = 0;
  std::uint64_t sequence = 0;
  for (;;) {
    {
      std::unique_lock lock(pending_mutex);
      while (pending.records == 0 && !stopping.load()) {
        writer_sleeping = true;
        writer_wake.wait(lock);
      }
      if (stopping.load()) return;
      std::swap(taken, pending);  // the I/O threads refill the emptied buffers (capacity kept)
      writer_sleeping = false;
    }
    if (db != nullptr) {
      write_rocksdb(*db, taken.bytes, sequence);
    } else {
      write_wrapped(log_fd, taken.bytes, offset, wal_bytes);
      if (fdatasync(log_fd) != 0) die("fdatasync");
    }
    ++groups_synced;
    records_synced += taken.records;
    for (std::size_t t = 0; t < taken.waiters.size(); ++t) {
      auto& ws = taken.waiters[t];
      if (ws.empty()) continue;
      {
        std::lock_guard lock(threads[t].done_mutex);
        threads[t].done.insert(threads[t].done.end(), ws.begin(), ws.end());
      }
      const std::uint64_t one = 1;  // once per thread per group
      if (write(threads[t].event_fd, &one, sizeof one) < 0 && errno != EAGAIN) die("write eventfd");
      ws.clear();
    }
    taken.bytes.clear();
    taken.records = 0;
  }
}

// Zeros over the whole log, synced: later fdatasyncs then flush data blocks only, never the
// file size or block allocation. Deliberately more favourable than RocksDB's WAL, which grows
// (recycled only with recycle_log_file_num): this is a floor, not a storage engine.
int open_preallocated_log(const char* path, std::size_t wal_bytes) {
  const int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) die("open log");
  const std::string zeros(1 << 20, '\0');
  for (std::size_t offset = 0; offset < wal_bytes;)
    write_wrapped(fd, std::string_view(zeros).substr(0, wal_bytes - offset), offset, wal_bytes);
  if (fdatasync(fd) != 0) die("fdatasync log");
  return fd;
}

// A loopback SO_REUSEPORT listener on port (0: any); returns the port it got.
std::uint16_t listen_on(std::uint16_t port, int& fd) {
  fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket");
  const int one = 1;
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) die("SO_REUSEADDR");
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) die("SO_REUSEPORT");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  socklen_t len = sizeof addr;
  if (bind(fd, reinterpret_cast<const sockaddr*>(&addr), len) != 0) die("bind");
  if (listen(fd, 4096) != 0) die("listen");
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) die("getsockname");
  return ntohs(addr.sin_port);
}

}  // namespace

int main(int argc, char** argv) {
  std::string port_file, log_path, rocksdb_path;
  unsigned long thread_count = 2;
  unsigned long long wal_bytes = 64ull << 20;
  bool ok = argc % 2 == 1;
  for (int i = 1; ok && i + 1 < argc; i += 2) {
    const std::string_view arg = argv[i];
    if (arg == "--port-file") port_file = argv[i + 1];
    else if (arg == "--log") log_path = argv[i + 1];
    else if (arg == "--rocksdb") rocksdb_path = argv[i + 1];
    else if (arg == "--spin-ns") spin_ns = std::strtol(argv[i + 1], nullptr, 10);
    else if (arg == "--io-threads") thread_count = std::strtoul(argv[i + 1], nullptr, 10);
    else if (arg == "--wal-bytes") wal_bytes = std::strtoull(argv[i + 1], nullptr, 10);
    else ok = false;
  }
  if (!ok || port_file.empty() || log_path.empty() == rocksdb_path.empty() || thread_count < 1 || thread_count > 64 || wal_bytes < (1u << 20)) {
    std::fprintf(stderr, "usage: verify_floor_server --port-file PATH (--log FILE [--wal-bytes N (>= 1 MiB)]"
                         " | --rocksdb DIR) [--io-threads N (1-64)] [--spin-ns N]\n");
    return 2;
  }
  rlimit files{};
  if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &files) != 0) die("setrlimit");
  }
  // Every thread inherits the blocked mask; main alone takes the signal, through sigwait.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  if (pthread_sigmask(SIG_BLOCK, &signals, nullptr) != 0) die("pthread_sigmask");

  const int log_fd = log_path.empty() ? -1 : open_preallocated_log(log_path.c_str(), static_cast<std::size_t>(wal_bytes));
  std::unique_ptr<rocksdb::DB> db;
  if (!rocksdb_path.empty()) {
    rocksdb::Options options;
    options.create_if_missing = true;
    rocksdb::DB* opened = nullptr;
    const auto status = rocksdb::DB::Open(options, rocksdb_path, &opened);
    if (!status.ok()) {
      std::fprintf(stderr, "verify_floor_server: rocksdb open: %s\n", status.ToString().c_str());
      return 1;
    }
    db.reset(opened);
  }
  std::vector<io_thread> threads(thread_count);
  std::uint16_t port = 0;
  for (auto& t : threads) {
    port = listen_on(port, t.listen_fd);  // the first picks the port; the rest share it
    t.epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    t.event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (t.epoll_fd < 0 || t.event_fd < 0) die("epoll_create1/eventfd");
    epoll_set(t.epoll_fd, EPOLL_CTL_ADD, t.listen_fd, EPOLLIN, listener_tag);
    epoll_set(t.epoll_fd, EPOLL_CTL_ADD, t.event_fd, EPOLLIN, eventfd_tag);
  }
  std::vector<std::thread> running;
  for (std::size_t i = 0; i < threads.size(); ++i) {
    running.emplace_back([&threads, i] {
      pthread_setname_np(pthread_self(), ("floor-io" + std::to_string(i)).c_str());
      threads[i].run(static_cast<std::uint32_t>(i), threads.size());
    });
  }
  running.emplace_back([&] {
    pthread_setname_np(pthread_self(), "floor-writer");
    writer_run(log_fd, static_cast<std::size_t>(wal_bytes), db.get(), threads);
  });

  const std::string tmp = port_file + ".tmp";
  FILE* out = std::fopen(tmp.c_str(), "w");
  if (out == nullptr || std::fprintf(out, "%u\n", unsigned{port}) < 0 || std::fclose(out) != 0) die("port file");
  if (std::rename(tmp.c_str(), port_file.c_str()) != 0) die("rename port file");

  int signal_number = 0;
  while (sigwait(&signals, &signal_number) != 0) {
  }
  stopping.store(true);
  { std::lock_guard lock(pending_mutex); }  // the writer is waiting or will see stopping
  writer_wake.notify_one();
  for (auto& t : threads) {
    const std::uint64_t one = 1;
    if (write(t.event_fd, &one, sizeof one) < 0 && errno != EAGAIN) die("write eventfd");
  }
  for (auto& t : running) t.join();

  std::uint64_t answered = 0;
  for (const auto& t : threads) answered += t.answered;
  std::fprintf(stderr, "verify_floor_server: answered %llu requests, %llu groups, %.1f records per group\n",
               static_cast<unsigned long long>(answered), static_cast<unsigned long long>(groups_synced),
               groups_synced ? static_cast<double>(records_synced) / static_cast<double>(groups_synced) : 0.0);
  return 0;
}
