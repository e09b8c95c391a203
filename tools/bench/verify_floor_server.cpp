// The "floor" peer of tools/bench/verify (not a test): the least work any server must do here to
// answer an HTTP/1.1 keep-alive request only after a record of it is fdatasync'ed, with group
// commit. Without --work it does none of callsignd's work (no TOTP, JSON or hash chain), so its
// throughput bounds what a durable verify endpoint can reach on this machine.
//
//   verify_floor_server --port-file PATH (--log FILE [--wal-bytes N] | --rocksdb DIR) [--io-threads N]
//                       [--spin-ns N] [--work DATA_DIR --users N]   (--work needs --rocksdb)
//
// N I/O threads, each with its own SO_REUSEPORT listener and level-triggered epoll (one recv or
// send per readiness report; no extra call to see EAGAIN), parse requests and append one
// 352-byte record each to a shared group, once per epoll round. One writer thread writes a
// group with one pwrite, fdatasyncs, then hands its waiters back to their I/O threads through
// an eventfd; only then is the 200 sent. With --rocksdb DIR the writer instead puts the group's
// records into a RocksDB database (default options, one key per record) with one synced Write:
// the floor on the stack callsignd must use, whose WAL grows, so each sync also writes its size.
// With --work DATA_DIR (and --rocksdb DIR) each request also does the work the issue requires of a
// verify, with callsign's own libraries (verify_floor_work.hpp), and the writer stores what
// callsignd's group-commit writer stores: the floor of a verify on this stack, less callsignd's
// architecture.
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

#include "storage/audit_entry.hpp"
#include "storage/database.hpp"
#include "storage/key_ring_file.hpp"
#include "storage/state_log.hpp"
#include "verify_floor_io_thread.hpp"

using namespace verify_floor;

namespace {

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

// --work: the group's audit entries, numbered, chained (SHA-256 of the previous entry) and
// indexed by user, and its replay-mark and counter writes as one state-log record, in one synced
// WriteBatch: what callsignd's group-commit writer stores, less checkpoints and folds.
struct chain_head {
  std::uint64_t seq = 0;
  callsign::storage::audit_hash hash{};
  std::uint64_t log = 0;
};

void write_work_group(callsign::storage::database& db, std::vector<work_item>& items, chain_head& head) {
  using callsign::storage::column_family;
  using callsign::storage::write_op;
  std::vector<write_op> ops, state;
  ops.reserve(items.size() * 2 + 1);
  for (work_item& item : items) {
    if (!item.audited) continue;
    head.hash = callsign::storage::append_audit_records(++head.seq, head.hash, item.draft, ops);
    for (write_op& op : item.state) state.push_back(std::move(op));
  }
  if (!state.empty()) {
    ops.push_back({write_op::kind::put, column_family::state_log, callsign::storage::state_log_key(++head.log),
                   callsign::storage::encode_state_log_record(state)});
  }
  if (ops.empty()) return;
  callsign::storage::sort_by_family_and_key(ops);  // as callsignd's writer does
  if (auto written = db.write(ops); !written) {
    std::fprintf(stderr, "verify_floor_server: write: %s\n", written.error().message.c_str());
    std::exit(1);
  }
}

void writer_run(int log_fd, std::size_t wal_bytes, rocksdb::DB* db, callsign::storage::database* work_db,
                std::vector<io_thread>& threads) {
  group taken;
  std::size_t offset = 0;
  std::uint64_t sequence = 0;
  chain_head head;
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
    if (work_db != nullptr) {
      write_work_group(*work_db, taken.items, head);
    } else if (db != nullptr) {
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
    taken.items.clear();
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
  std::string port_file, log_path, rocksdb_path, work_dir;
  unsigned long users = 0;
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
    else if (arg == "--work") work_dir = argv[i + 1];
    else if (arg == "--users") users = std::strtoul(argv[i + 1], nullptr, 10);
    else ok = false;
  }
  if (!ok || port_file.empty() || log_path.empty() == rocksdb_path.empty() || thread_count < 1 || thread_count > 64 || wal_bytes < (1u << 20) ||
      (!work_dir.empty() && (rocksdb_path.empty() || users > 1'000'000))) {
    std::fprintf(stderr, "usage: verify_floor_server --port-file PATH (--log FILE [--wal-bytes N (>= 1 MiB)]"
                         " | --rocksdb DIR) [--io-threads N (1-64)] [--spin-ns N] [--work DATA_DIR --users N]"
                         " (--work needs --rocksdb)\n");
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
  std::unique_ptr<callsign::storage::database> work_db;
  std::unique_ptr<verify_work> work_state;
  if (!work_dir.empty()) {
    // callsignd's master key ring and development token key, read from its data directory, so
    // the floor accepts the bench's tokens and codes; its own database is --rocksdb DIR.
    auto ring = callsign::storage::load_key_ring(std::filesystem::path(work_dir) / "master.key");
    auto tokens = callsign::server::token_verifier::load(callsign::server::auth_config{}, work_dir, true);
    auto opened = callsign::storage::database::open({rocksdb_path});
    if (!ring || !tokens || !opened) {
      std::fprintf(stderr, "verify_floor_server: --work: %s\n",
                   (!ring ? ring.error() : !tokens ? tokens.error() : opened.error()).message.c_str());
      return 1;
    }
    // Failure limits so high that the floor never throttles: it answers faster than callsignd,
    // so over a long run it would pass callsignd's 1,000,000 and answer cheap 429s. The three
    // windows are still read for every request and written for every failure.
    work_state = std::make_unique<verify_work>(std::move(*ring), std::move(*tokens), users, std::int64_t{1} << 50);
    work = work_state.get();
    work_db = std::move(*opened);
  } else if (!rocksdb_path.empty()) {
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
    writer_run(log_fd, static_cast<std::size_t>(wal_bytes), db.get(), work_db.get(), threads);
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
