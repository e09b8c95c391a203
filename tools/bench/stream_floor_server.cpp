// The floor of tools/bench/stream: the least a WebSocket push server can do on this machine for
// the benchmark's load, measured in the same run as callsignd and the Node `ws` peer. It speaks
// just enough of RFC 6455 for the bench's clients and does nothing else: no authentication (it
// takes the JWT's `sub` unchecked, as the Node peer does), no timers per connection, no ping, no
// slow-consumer handling, no allocation at the boundary. Each thread builds its connections'
// next frames in one buffer half a period ahead and, at the boundary, only calls send() on each
// socket. So its delivery latency is what the kernel's loopback send and the clients' reads cost
// here; no server can deliver the same frames to the same clients faster on this machine.
//
//   stream_floor_server --port-file PATH --period SECONDS [--threads N] [--order subscribed|peer]
//
// N threads (default 2, one per core), each with its own SO_REUSEPORT listener on the same port
// and its own epoll, as callsignd has one io_context per I/O thread. --order peer (an experiment)
// sends to all of one client process's sockets before the next one's, so each process is woken
// less often: an order that only helps when the clients share the server's host.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

std::atomic<bool> stopping{false};

struct connection {
  int fd = -1;
  bool upgraded = false;
  bool subscribed = false;
  std::string in;
  std::string user;
  std::uint32_t peer = 0;  // the client's IPv4 address (each client process has its own)
};

long long now_ms() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<long long>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

std::string base64(const unsigned char* data, std::size_t size) {
  std::string out(4 * ((size + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(size));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

// base64url without padding -> bytes; stops at the first character outside the alphabet.
std::string base64url_decode(std::string_view in) {
  std::string out;
  unsigned bits = 0;
  int count = 0;
  for (char ch : in) {
    int v = -1;
    if (ch >= 'A' && ch <= 'Z') v = ch - 'A';
    else if (ch >= 'a' && ch <= 'z') v = ch - 'a' + 26;
    else if (ch >= '0' && ch <= '9') v = ch - '0' + 52;
    else if (ch == '-') v = 62;
    else if (ch == '_') v = 63;
    if (v < 0) break;
    bits = (bits << 6) | static_cast<unsigned>(v);
    count += 6;
    if (count >= 8) {
      count -= 8;
      out.push_back(static_cast<char>((bits >> count) & 0xff));
    }
  }
  return out;
}

// The string value of "name" in a flat JSON object (no escapes: the bench's ids have none).
std::string json_string(std::string_view json, std::string_view name) {
  std::string key;
  key.reserve(name.size() + 4);
  key.push_back('"');
  key.append(name);
  key.append("\":\"");
  const auto at = json.find(key);
  if (at == std::string_view::npos) return {};
  const auto start = at + key.size();
  const auto end = json.find('"', start);
  return end == std::string_view::npos ? std::string{} : std::string(json.substr(start, end - start));
}

std::string accept_key(std::string_view key) {
  const std::string joined = std::string(key) + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(joined.data()), joined.size(), digest);
  return base64(digest, sizeof digest);
}

// The token message of callsignd's stream (docs/stream.md), as one unmasked text frame. The code
// is a cheap mix of user and step: callsignd computes its codes ahead of the boundary too.
void append_token_frame(std::string& out, const std::string& user, long long step, int period) {
  std::uint64_t h = 1469598103934665603ULL;
  for (char ch : user) h = (h ^ static_cast<unsigned char>(ch)) * 1099511628211ULL;
  h = (h ^ static_cast<std::uint64_t>(step)) * 1099511628211ULL;
  char payload[160];
  const int n = std::snprintf(payload, sizeof payload,
                              "{\"type\":\"token\",\"token\":\"%06u\",\"step\":%lld,\"expires_at\":%lld,\"period\":%d}",
                              static_cast<unsigned>(h % 1000000), step, (step + 1) * period, period);
  out.push_back(static_cast<char>(0x81));
  out.push_back(static_cast<char>(n));  // always < 126 bytes
  out.append(payload, static_cast<std::size_t>(n));
}

void send_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n <= 0) return;  // a floor: a full or broken socket just loses the frame (the bench reports it)
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
}

class worker {
 public:
  worker(int port, int period, bool by_peer) : period_(period), by_peer_(by_peer) {
    listener_ = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    const int on = 1;
    setsockopt(listener_, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    setsockopt(listener_, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    if (bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(listener_, 4096) != 0) {
      std::perror("stream_floor_server: bind/listen");
      std::exit(1);
    }
    epoll_ = epoll_create1(0);
    timer_ = timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK);
    watch(listener_, kListener);
    watch(timer_, kTimer);
  }

  int port() const {
    sockaddr_in addr{};
    socklen_t len = sizeof addr;
    getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len);
    return ntohs(addr.sin_port);
  }

  void run() {
    arm_next();
    std::vector<epoll_event> events(1024);
    while (!stopping.load(std::memory_order_relaxed)) {
      const int n = epoll_wait(epoll_, events.data(), static_cast<int>(events.size()), 200);
      for (int i = 0; i < n; ++i) {
        const std::uint64_t tag = events[static_cast<std::size_t>(i)].data.u64;
        if (tag == kListener) {
          accept_all();
        } else if (tag == kTimer) {
          std::uint64_t expirations = 0;
          if (read(timer_, &expirations, sizeof expirations) < 0) continue;
          on_timer();
        } else {
          on_readable(static_cast<std::size_t>(tag));
        }
      }
    }
  }

 private:
  static constexpr std::uint64_t kListener = ~std::uint64_t{0};
  static constexpr std::uint64_t kTimer = ~std::uint64_t{0} - 1;

  void watch(int fd, std::uint64_t tag) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = tag;
    epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &ev);
  }

  // Two wake-ups per period: half a period before a boundary (build every frame of the next
  // step) and at the boundary (send them).
  void arm_next() {
    const long long period_ms = period_ * 1000LL;
    const long long now = now_ms();
    const long long boundary = (now / period_ms + 1) * period_ms;
    const long long prepare = boundary - period_ms / 2;
    due_ = prepare > now ? prepare : boundary;
    itimerspec spec{};
    spec.it_value.tv_sec = due_ / 1000;
    spec.it_value.tv_nsec = (due_ % 1000) * 1000000;
    timerfd_settime(timer_, TFD_TIMER_ABSTIME, &spec, nullptr);
  }

  void on_timer() {
    const long long period_ms = period_ * 1000LL;
    const long long step = (due_ + period_ms / 2) / period_ms;  // the step that starts at the next boundary
    if (due_ % period_ms != 0) {
      frames_.clear();
      offsets_.clear();
      if (by_peer_) {
        std::stable_sort(subscribed_.begin(), subscribed_.end(),
                         [this](std::size_t a, std::size_t b) { return conns_[a].peer < conns_[b].peer; });
      }
      for (std::size_t i : subscribed_) {
        offsets_.push_back(frames_.size());
        append_token_frame(frames_, conns_[i].user, step, period_);
      }
      prepared_ = subscribed_;
    } else {
      for (std::size_t k = 0; k < prepared_.size(); ++k) {
        const std::size_t end = k + 1 < offsets_.size() ? offsets_[k + 1] : frames_.size();
        const connection& c = conns_[prepared_[k]];
        if (c.subscribed) send_all(c.fd, std::string_view(frames_).substr(offsets_[k], end - offsets_[k]));
      }
      prepared_.clear();
    }
    arm_next();
  }

  void accept_all() {
    for (;;) {
      sockaddr_in peer{};
      socklen_t peer_len = sizeof peer;
      const int fd = accept4(listener_, reinterpret_cast<sockaddr*>(&peer), &peer_len, SOCK_NONBLOCK);
      if (fd < 0) return;
      const int on = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
      if (static_cast<std::size_t>(fd) >= conns_.size()) conns_.resize(static_cast<std::size_t>(fd) + 1024);
      conns_[static_cast<std::size_t>(fd)] = connection{fd, false, false, {}, {}, ntohl(peer.sin_addr.s_addr)};
      watch(fd, static_cast<std::uint64_t>(fd));
    }
  }

  void drop(connection& c) {
    if (c.subscribed) {
      for (std::size_t k = 0; k < subscribed_.size(); ++k) {
        if (subscribed_[k] == static_cast<std::size_t>(c.fd)) {
          subscribed_[k] = subscribed_.back();
          subscribed_.pop_back();
          break;
        }
      }
    }
    close(c.fd);
    c = connection{};
  }

  void on_readable(std::size_t index) {
    connection& c = conns_[index];
    char buf[4096];
    for (;;) {
      const ssize_t n = recv(c.fd, buf, sizeof buf, 0);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        drop(c);
        return;
      }
      if (n < 0) break;
      c.in.append(buf, static_cast<std::size_t>(n));
      if (c.in.size() > 16384) {
        drop(c);
        return;
      }
    }
    if (!c.upgraded) {
      const auto end = c.in.find("\r\n\r\n");
      if (end == std::string::npos) return;
      const auto key_at = c.in.find("Sec-WebSocket-Key: ");
      if (key_at == std::string::npos || key_at > end) {
        drop(c);
        return;
      }
      const auto key_end = c.in.find("\r\n", key_at);
      const std::string key = c.in.substr(key_at + 19, key_end - key_at - 19);
      send_all(c.fd, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Accept: " + accept_key(key) + "\r\n\r\n");
      c.upgraded = true;
      c.in.erase(0, end + 4);
    }
    // Client frames are masked (RFC 6455 5.3): the auth message, pongs, a close.
    while (c.in.size() >= 6) {
      const auto opcode = static_cast<std::uint8_t>(c.in[0]) & 0x0f;
      std::size_t len = static_cast<std::uint8_t>(c.in[1]) & 0x7f;
      std::size_t header = 6;
      if (len == 126) {
        if (c.in.size() < 8) return;
        len = (static_cast<std::size_t>(static_cast<std::uint8_t>(c.in[2])) << 8) | static_cast<std::uint8_t>(c.in[3]);
        header = 8;
      } else if (len == 127) {
        drop(c);
        return;
      }
      if (c.in.size() < header + len) return;
      std::string payload = c.in.substr(header, len);
      for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>(payload[i] ^ c.in[header - 4 + i % 4]);
      c.in.erase(0, header + len);
      if (opcode == 0x8) {
        drop(c);
        return;
      }
      if (opcode == 0x1 && !c.subscribed) subscribe(c, payload);
    }
  }

  void subscribe(connection& c, std::string_view auth) {
    const std::string token = json_string(auth, "token");
    const auto dot = token.find('.');
    const auto dot2 = token.find('.', dot + 1);
    c.user = dot == std::string::npos || dot2 == std::string::npos
                 ? std::string{}
                 : json_string(base64url_decode(std::string_view(token).substr(dot + 1, dot2 - dot - 1)), "sub");
    if (c.user.empty()) {
      drop(c);
      return;
    }
    c.subscribed = true;
    subscribed_.push_back(static_cast<std::size_t>(c.fd));
    std::string first;
    append_token_frame(first, c.user, now_ms() / (period_ * 1000LL), period_);
    send_all(c.fd, first);
  }

  int period_;
  bool by_peer_;  // --order peer: send to one client process's sockets after another
  int listener_ = -1, epoll_ = -1, timer_ = -1;
  long long due_ = 0;
  std::vector<connection> conns_;       // by descriptor
  std::vector<std::size_t> subscribed_; // descriptors, in subscription order
  std::vector<std::size_t> prepared_;   // the descriptors whose frames frames_ holds
  std::vector<std::size_t> offsets_;
  std::string frames_;
};

const char* arg(int argc, char** argv, const char* name, const char* fallback) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], name) == 0) return argv[i + 1];
  }
  return fallback;
}

}  // namespace

int main(int argc, char** argv) {
  const char* port_file = arg(argc, argv, "--port-file", nullptr);
  const int period = std::atoi(arg(argc, argv, "--period", "2"));
  const int threads = std::atoi(arg(argc, argv, "--threads", "2"));
  const bool by_peer = std::strcmp(arg(argc, argv, "--order", "subscribed"), "peer") == 0;
  if (port_file == nullptr || period < 1 || threads < 1) {
    std::fprintf(stderr, "usage: stream_floor_server --port-file PATH --period SECONDS [--threads N]\n");
    return 2;
  }
  rlimit limit{};
  getrlimit(RLIMIT_NOFILE, &limit);
  limit.rlim_cur = limit.rlim_max;
  setrlimit(RLIMIT_NOFILE, &limit);
  std::signal(SIGTERM, [](int) { stopping.store(true); });
  std::signal(SIGINT, [](int) { stopping.store(true); });

  std::vector<std::unique_ptr<worker>> workers;
  workers.push_back(std::make_unique<worker>(0, period, by_peer));
  const int port = workers.front()->port();
  for (int i = 1; i < threads; ++i) workers.push_back(std::make_unique<worker>(port, period, by_peer));
  {
    const std::string tmp = std::string(port_file) + ".tmp";
    std::ofstream(tmp) << port << "\n";
    std::rename(tmp.c_str(), port_file);
  }
  std::vector<std::thread> running;
  for (auto& w : workers) running.emplace_back([&w] { w->run(); });
  for (auto& t : running) t.join();
  return 0;
}
