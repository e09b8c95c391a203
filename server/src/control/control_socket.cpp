#include "server/control/control_socket.hpp"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <system_error>

namespace callsign::server {
namespace {

namespace fs = std::filesystem;

error socket_error(std::string_view action, const fs::path& path, int code) {
  return make_error(error_kind::unavailable,
                    std::string(action) + " " + path.string() + ": " + std::generic_category().message(code));
}

// A Unix socket address for `path`. A path longer than sun_path allows is reached through its
// directory instead: the directory is opened and the address names the socket as
// /proc/self/fd/N/<file name>, which bind and connect resolve like the full path. The
// descriptor is held until the bind or connect is done.
class unix_address {
 public:
  static result<unix_address> of(const fs::path& path) {
    unix_address out;
    out.address_.sun_family = AF_UNIX;
    std::string text = path.string();
    if (text.size() >= sizeof(out.address_.sun_path)) {
      const fs::path directory = path.parent_path().empty() ? fs::path(".") : path.parent_path();
      out.directory_fd_ = ::open(directory.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
      if (out.directory_fd_ < 0) return socket_error("cannot open the directory of", path, errno);
      text = "/proc/self/fd/" + std::to_string(out.directory_fd_) + "/" + path.filename().string();
      if (text.size() >= sizeof(out.address_.sun_path)) {
        return make_error(error_kind::invalid_input, "control socket file name " + path.filename().string() +
                                                         " is too long for a Unix socket");
      }
    }
    std::memcpy(out.address_.sun_path, text.c_str(), text.size() + 1);
    return out;
  }

  unix_address(unix_address&& other) noexcept : address_(other.address_), directory_fd_(other.directory_fd_) {
    other.directory_fd_ = -1;
  }
  unix_address& operator=(unix_address&&) = delete;
  unix_address(const unix_address&) = delete;
  unix_address& operator=(const unix_address&) = delete;
  ~unix_address() {
    if (directory_fd_ >= 0) ::close(directory_fd_);
  }

  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&address_); }
  static socklen_t size() { return sizeof(sockaddr_un); }

 private:
  unix_address() = default;
  sockaddr_un address_{};
  int directory_fd_ = -1;
};

// Reads up to the first newline (not included), at most control_line_max bytes, within the
// socket's receive timeout. Empty optional on timeout, error or an over-long line.
std::optional<std::string> read_line(int fd) {
  std::string line;
  char c = 0;
  while (line.size() <= control_line_max) {
    const ssize_t got = ::recv(fd, &c, 1, 0);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return std::nullopt;
    if (c == '\n') return line;
    line.push_back(c);
  }
  return std::nullopt;
}

bool write_line(int fd, std::string text) {
  text.push_back('\n');
  std::string_view rest = text;
  while (!rest.empty()) {
    const ssize_t sent = ::send(fd, rest.data(), rest.size(), MSG_NOSIGNAL);
    if (sent < 0 && errno == EINTR) continue;
    if (sent <= 0) return false;
    rest.remove_prefix(static_cast<std::size_t>(sent));
  }
  return true;
}

void set_timeouts(int fd, std::chrono::seconds seconds) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(seconds.count());
  (void)::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  (void)::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

}  // namespace

result<std::unique_ptr<control_socket>> control_socket::start(const fs::path& path, handler on_request) {
  auto address = unix_address::of(path);
  if (!address) return address.error();
  ::unlink(path.c_str());  // a stale file from a server that did not stop cleanly
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return socket_error("cannot create socket for", path, errno);
  auto fail = [&](std::string_view action) {
    const int code = errno;
    ::close(fd);
    ::unlink(path.c_str());
    return socket_error(action, path, code);
  };
  if (::bind(fd, address->get(), unix_address::size()) != 0) return fail("cannot bind");
  // Nobody can connect before listen(), so tightening the mode here leaves no window.
  if (::chmod(path.c_str(), 0600) != 0) return fail("cannot chmod");
  if (::listen(fd, 4) != 0) return fail("cannot listen on");
  int wake[2] = {-1, -1};
  if (::pipe2(wake, O_CLOEXEC) != 0) return fail("cannot create a wake pipe for");
  std::unique_ptr<control_socket> socket(new control_socket(path, fd, wake[0], wake[1], std::move(on_request)));
  socket->thread_ = std::thread([raw = socket.get()] { raw->run(); });
  return socket;
}

control_socket::control_socket(fs::path path, int listen_fd, int wake_read, int wake_write, handler on_request)
    : path_(std::move(path)),
      listen_fd_(listen_fd),
      wake_read_(wake_read),
      wake_write_(wake_write),
      on_request_(std::move(on_request)) {}

control_socket::~control_socket() {
  stop();
}

void control_socket::stop() {
  if (!thread_.joinable()) return;
  const char byte = 1;
  while (::write(wake_write_, &byte, 1) < 0 && errno == EINTR) {
  }
  thread_.join();
  ::close(listen_fd_);
  ::close(wake_read_);
  ::close(wake_write_);
  ::unlink(path_.c_str());
}

void control_socket::run() {
  pthread_setname_np(pthread_self(), "callsign-ctl");  // in top -H and /proc/PID/task
  for (;;) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_read_, POLLIN, 0}};
    const int ready = ::poll(fds, 2, -1);
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0 || (fds[1].revents & POLLIN) != 0) return;
    if ((fds[0].revents & POLLIN) == 0) continue;
    const int client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    serve(client);
    ::close(client);
  }
}

void control_socket::serve(int client_fd) {
  // The file mode already limits who can connect; the peer's uid is checked as well, in case
  // the socket's directory or mode was loosened by hand.
  ucred peer{};
  socklen_t size = sizeof(peer);
  if (::getsockopt(client_fd, SOL_SOCKET, SO_PEERCRED, &peer, &size) != 0 ||
      (peer.uid != ::geteuid() && peer.uid != 0)) {
    (void)write_line(client_fd, std::string(control_reply_error) + "\tpermission denied");
    return;
  }
  set_timeouts(client_fd, std::chrono::seconds(5));
  const auto request = read_line(client_fd);
  if (!request) {
    (void)write_line(client_fd, std::string(control_reply_error) + "\tno complete request line");
    return;
  }
  (void)write_line(client_fd, on_request_(*request));
}

result<std::string> send_control_request(const fs::path& path, std::string_view request, std::chrono::seconds timeout) {
  auto address = unix_address::of(path);
  if (!address) return address.error();
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return socket_error("cannot create socket for", path, errno);
  struct closer {
    int fd;
    ~closer() { ::close(fd); }
  } const close_on_exit{fd};
  if (::connect(fd, address->get(), unix_address::size()) != 0) {
    const int code = errno;
    if (code == ENOENT || code == ECONNREFUSED) {
      return make_error(error_kind::not_found, "no server answers on " + path.string());
    }
    return socket_error("cannot connect to", path, code);
  }
  set_timeouts(fd, timeout);
  if (!write_line(fd, std::string(request))) return socket_error("cannot send to", path, errno);
  auto reply = read_line(fd);
  if (!reply) return make_error(error_kind::unavailable, "no reply from " + path.string() + " in time");
  return *reply;
}

}  // namespace callsign::server
