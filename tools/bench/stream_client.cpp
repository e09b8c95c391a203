// A native client process for tools/bench/stream (not a test): one epoll thread holding many
// WebSocket connections, so the delivery latency it measures is the server's, not the cost of
// a JavaScript event loop draining thousands of sockets on a 2-core machine.
//
//   stream_client --port P --tokens FILE --local-address 127.0.x.y [--concurrency 200] [--sched batch]
//
// --sched batch runs the client as SCHED_BATCH: a frame's arrival then does not preempt the
// server's thread on the same core (no wakeup preemption), so the client reads when a core is free
// and takes more frames per wake-up. An experiment on the benchmark's co-location (clients and
// server on the same 2 cores), off by default; the figures stay stamped per read.
//
// Opens one connection per token line to 127.0.0.1:P/v1/stream, sends {"type":"auth","token":..}
// and waits for each connection's first token message. Line protocol with the parent:
//   -> "ready OPEN FAILED"                 every connection got its first token (or failed)
//   <- "measure FROM TO"                   record arrivals of tokens whose step starts in [FROM, TO) ms
//   <- "count on" / "count off"            count the epoll loop's work in between
//   <- "report"   -> "kernel k1 k2 ..."   ms from step start to the kernel's receive stamp, one per message
//                 -> "steps S1 S2 ..."    the step start (ms) of each message, in the same order
//                 -> "loop WAITS EVENTS READS"   while counting: epoll_wait calls that returned
//                                                 events, the events they returned, reads with data
//                 -> "latencies CLOSED v1 v2 ..."   ms from step start to arrival, one per message
//   <- "stop"                              close everything and exit
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

namespace {

enum class phase { connecting, upgrading, waiting_first, open, done };

struct connection {
  int fd = -1;
  phase state = phase::connecting;
  std::size_t token = 0;
  std::string in;
  std::string out;
};

double ms_of(const timespec& ts) {
  return static_cast<double>(ts.tv_sec) * 1000.0 + static_cast<double>(ts.tv_nsec) / 1e6;
}

double now_ms() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return ms_of(ts);
}

// A masked client frame (RFC 6455 5.3); the zero mask key is valid and leaves the payload as is.
std::string client_frame(std::uint8_t opcode, std::string_view payload) {
  std::string frame;
  frame.push_back(static_cast<char>(0x80 | opcode));
  if (payload.size() < 126) {
    frame.push_back(static_cast<char>(0x80 | payload.size()));
  } else {
    frame.push_back(static_cast<char>(0x80 | 126));
    frame.push_back(static_cast<char>((payload.size() >> 8) & 0xff));
    frame.push_back(static_cast<char>(payload.size() & 0xff));
  }
  frame.append(4, '\0');
  frame.append(payload);
  return frame;
}

// The integer after "\"name\":" in a flat JSON object, or -1.
long long json_int(std::string_view json, std::string_view name) {
  char key[64];
  const int key_len = std::snprintf(key, sizeof key, "\"%.*s\":", static_cast<int>(name.size()), name.data());
  if (key_len <= 0 || static_cast<std::size_t>(key_len) >= sizeof key) return -1;
  const auto at = json.find(std::string_view(key, static_cast<std::size_t>(key_len)));
  if (at == std::string_view::npos) return -1;
  char digits[32] = {};
  const auto value = json.substr(at + static_cast<std::size_t>(key_len), sizeof digits - 1);
  std::memcpy(digits, value.data(), value.size());
  return std::strtoll(digits, nullptr, 10);
}

struct client {
  int epoll = -1;
  int port = 0;
  std::string local_address;
  std::vector<std::string> tokens;
  std::vector<connection> conns;
  std::size_t next = 0, in_progress = 0, open = 0, failed = 0, closed_during_run = 0;
  double from = -1, to = -1;
  std::vector<double> values;         // application: the read returned (stamped right after it)
  std::vector<double> kernel_values;  // kernel: the segment's software receive stamp
  std::vector<double> starts;         // the step start of each value (per-boundary figures)
  // Between "count on" and "count off": epoll_wait calls that returned events, those events,
  // and reads that returned data.
  bool counting = false;
  std::size_t waits = 0, events = 0, reads = 0;

  void start_one() {
    connection& c = conns[next];
    c.token = next++;
    c.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    sockaddr_in local{};
    local.sin_family = AF_INET;
    inet_pton(AF_INET, local_address.c_str(), &local.sin_addr);
    bind(c.fd, reinterpret_cast<sockaddr*>(&local), sizeof local);
    sockaddr_in remote{};
    remote.sin_family = AF_INET;
    remote.sin_port = htons(static_cast<std::uint16_t>(port));
    inet_pton(AF_INET, "127.0.0.1", &remote.sin_addr);
    connect(c.fd, reinterpret_cast<sockaddr*>(&remote), sizeof remote);
    // The kernel's software receive stamp (CLOCK_REALTIME) on every read, as SCM_TIMESTAMPNS.
    // On loopback it is taken when the server's send hands the segment to the receive path, so
    // it separates the server's fan-out from the time this process takes to pick the frame up.
    const int on = 1;
    setsockopt(c.fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on);
    c.out = "GET /v1/stream HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
            "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n";
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT;
    ev.data.u64 = c.token;
    epoll_ctl(epoll, EPOLL_CTL_ADD, c.fd, &ev);
    ++in_progress;
  }

  // A connection that failed before its first token, or closed after it.
  void fail(connection& c) {
    if (c.state == phase::done) return;
    if (c.state == phase::open) {
      ++closed_during_run;
    } else {
      ++failed;
      --in_progress;
    }
    close(c.fd);
    c.state = phase::done;
  }

  void flush(connection& c) {
    while (!c.out.empty()) {
      const ssize_t n = send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
      if (n < 0) {
        if (errno != EAGAIN) fail(c);
        return;
      }
      c.out.erase(0, static_cast<std::size_t>(n));
    }
  }

  void on_frame(connection& c, std::uint8_t opcode, std::string_view payload, double at, double kernel_at) {
    if (opcode == 0x9) {  // ping: answer so the keep-alive does not close us
      c.out += client_frame(0xA, payload);
      flush(c);
      return;
    }
    if (opcode == 0x8) {
      fail(c);
      return;
    }
    if (opcode != 0x1 || payload.find("\"type\":\"token\"") == std::string_view::npos) return;
    if (c.state == phase::waiting_first) {
      c.state = phase::open;
      ++open;
      --in_progress;
      return;
    }
    const long long expires = json_int(payload, "expires_at");
    const long long period = json_int(payload, "period");
    const double start = static_cast<double>(expires - period) * 1000.0;
    if (from >= 0 && start >= from && start < to) {
      values.push_back(at - start);
      starts.push_back(start);
      // A read without a stamp (none is expected on TCP once enabled) counts as the arrival.
      kernel_values.push_back((kernel_at > 0 ? kernel_at : at) - start);
    }
  }

  void on_readable(connection& c) {
    char buf[16384];
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(timespec))];
    for (;;) {
      iovec iov{buf, sizeof buf};
      msghdr msg{};
      msg.msg_iov = &iov;
      msg.msg_iovlen = 1;
      msg.msg_control = control;
      msg.msg_controllen = sizeof control;
      const ssize_t n = recvmsg(c.fd, &msg, 0);
      if (n == 0 || (n < 0 && errno != EAGAIN)) {
        fail(c);
        return;
      }
      if (n < 0) break;
      const double at = now_ms();  // on arrival, before any parsing
      reads += counting ? 1 : 0;
      // TCP gives the stamp of the last segment this read copied out.
      double kernel_at = 0;
      for (cmsghdr* cm = CMSG_FIRSTHDR(&msg); cm != nullptr; cm = CMSG_NXTHDR(&msg, cm)) {
        if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_TIMESTAMPNS) {
          timespec ts{};
          std::memcpy(&ts, CMSG_DATA(cm), sizeof ts);
          kernel_at = ms_of(ts);
        }
      }
      c.in.append(buf, static_cast<std::size_t>(n));
      if (c.state == phase::upgrading) {
        const auto end = c.in.find("\r\n\r\n");
        if (end == std::string::npos) continue;
        if (c.in.compare(0, 12, "HTTP/1.1 101") != 0) {
          fail(c);
          return;
        }
        c.in.erase(0, end + 4);
        c.state = phase::waiting_first;
        c.out += client_frame(0x1, "{\"type\":\"auth\",\"token\":\"" + tokens[c.token] + "\"}");
        flush(c);
      }
      std::size_t used = 0;
      for (;;) {
        const std::string_view rest(c.in.data() + used, c.in.size() - used);
        if (rest.size() < 2) break;
        const auto b0 = static_cast<std::uint8_t>(rest[0]);
        std::size_t len = static_cast<std::uint8_t>(rest[1]) & 0x7f;
        std::size_t header = 2;
        if (len == 126) {
          if (rest.size() < 4) break;
          len = (static_cast<std::size_t>(static_cast<std::uint8_t>(rest[2])) << 8) | static_cast<std::uint8_t>(rest[3]);
          header = 4;
        } else if (len == 127) {
          if (rest.size() < 10) break;
          len = 0;
          for (int i = 2; i < 10; ++i) len = (len << 8) | static_cast<std::uint8_t>(rest[static_cast<std::size_t>(i)]);
          header = 10;
        }
        if (rest.size() < header + len) break;
        on_frame(c, b0 & 0x0f, rest.substr(header, len), at, kernel_at);
        if (c.state == phase::done) return;
        used += header + len;
      }
      c.in.erase(0, used);
      // epoll is level-triggered here: a read that did not fill the buffer took everything the
      // socket held, and anything that arrives later is reported again. So no second read that
      // would only return EAGAIN (one system call less per frame).
      if (static_cast<std::size_t>(n) < sizeof buf) break;
    }
  }

  void on_writable(connection& c) {
    if (c.state == phase::connecting) {
      int err = 0;
      socklen_t len = sizeof err;
      getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) {
        fail(c);
        return;
      }
      c.state = phase::upgrading;
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u64 = c.token;
      epoll_ctl(epoll, EPOLL_CTL_MOD, c.fd, &ev);
    }
    flush(c);
  }

  void handle_command(const std::string& line) {
    if (line.rfind("measure ", 0) == 0) {
      std::sscanf(line.c_str(), "measure %lf %lf", &from, &to);
    } else if (line == "count on") {
      counting = true;
      waits = events = reads = 0;
    } else if (line == "count off") {
      counting = false;
    } else if (line == "report") {
      char num[96];
      std::string out = "kernel";
      for (double v : kernel_values) {
        std::snprintf(num, sizeof num, " %.3f", v);
        out += num;
      }
      out += "\nsteps";
      for (double v : starts) {
        std::snprintf(num, sizeof num, " %.0f", v);
        out += num;
      }
      std::snprintf(num, sizeof num, "\nloop %zu %zu %zu\n", waits, events, reads);
      out += num;
      out += "latencies " + std::to_string(closed_during_run);
      for (double v : values) {
        std::snprintf(num, sizeof num, " %.3f", v);
        out += num;
      }
      out += "\n";
      std::fwrite(out.data(), 1, out.size(), stdout);
      std::fflush(stdout);
    } else if (line == "stop") {
      std::exit(0);
    }
  }
};

}  // namespace

int main(int argc, char** argv) {
  client cl;
  std::size_t concurrency = 200;
  std::string tokens_file;
  bool sched_batch = false;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string_view name = argv[i];
    if (name == "--port") cl.port = std::atoi(argv[i + 1]);
    if (name == "--tokens") tokens_file = argv[i + 1];
    if (name == "--local-address") cl.local_address = argv[i + 1];
    if (name == "--concurrency") concurrency = static_cast<std::size_t>(std::atoi(argv[i + 1]));
    if (name == "--sched") sched_batch = std::string_view(argv[i + 1]) == "batch";
  }
  std::ifstream in(tokens_file);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) cl.tokens.push_back(line);
  }
  if (cl.port == 0 || cl.tokens.empty() || cl.local_address.empty()) {
    std::fprintf(stderr, "usage: stream_client --port P --tokens FILE --local-address A [--concurrency N]\n");
    return 2;
  }
  if (sched_batch) {
    sched_param param{};
    if (sched_setscheduler(0, SCHED_BATCH, &param) != 0) {
      std::perror("stream_client: SCHED_BATCH");
      return 2;
    }
  }
  rlimit limit{};
  getrlimit(RLIMIT_NOFILE, &limit);
  limit.rlim_cur = limit.rlim_max;
  setrlimit(RLIMIT_NOFILE, &limit);

  cl.conns.resize(cl.tokens.size());
  cl.epoll = epoll_create1(0);
  const std::uint64_t stdin_tag = ~std::uint64_t{0};
  fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
  epoll_event stdin_ev{};
  stdin_ev.events = EPOLLIN;
  stdin_ev.data.u64 = stdin_tag;
  epoll_ctl(cl.epoll, EPOLL_CTL_ADD, 0, &stdin_ev);

  bool ready_sent = false;
  std::string commands;
  std::vector<epoll_event> events(1024);
  for (;;) {
    while (cl.next < cl.tokens.size() && cl.in_progress < concurrency) cl.start_one();
    if (!ready_sent && cl.next == cl.tokens.size() && cl.in_progress == 0) {
      std::printf("ready %zu %zu\n", cl.open, cl.failed);
      std::fflush(stdout);
      ready_sent = true;
    }
    const int n = epoll_wait(cl.epoll, events.data(), static_cast<int>(events.size()), 1000);
    if (n > 0 && cl.counting) {
      ++cl.waits;
      cl.events += static_cast<std::size_t>(n);
    }
    for (int i = 0; i < n; ++i) {
      const auto tag = events[static_cast<std::size_t>(i)].data.u64;
      if (tag == stdin_tag) {
        char buf[4096];
        const ssize_t got = read(0, buf, sizeof buf);
        if (got == 0) return 0;  // the parent is gone
        if (got > 0) commands.append(buf, static_cast<std::size_t>(got));
        for (auto nl = commands.find('\n'); nl != std::string::npos; nl = commands.find('\n')) {
          cl.handle_command(commands.substr(0, nl));
          commands.erase(0, nl + 1);
        }
        continue;
      }
      connection& c = cl.conns[tag];
      if (c.state == phase::done) continue;
      const auto mask = events[static_cast<std::size_t>(i)].events;
      if (mask & EPOLLOUT) cl.on_writable(c);
      if (c.state != phase::done && (mask & (EPOLLIN | EPOLLHUP | EPOLLERR))) cl.on_readable(c);
    }
  }
}
