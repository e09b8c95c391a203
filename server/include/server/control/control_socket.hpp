// The operator's local channel into a running callsignd: a Unix socket at
// <data dir>/control.sock (mode 0600; peers must run as the server's user), one request line
// in, one reply line out. `callsign backup` uses it to make the server take the checkpoint
// itself, since RocksDB lets only the process holding the database make one. See
// docs/operations.md.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include "crypto/result.hpp"

namespace callsign::server {

inline constexpr std::string_view control_socket_file_name = "control.sock";
inline constexpr std::size_t control_line_max = 4096;

// Request lines: fields separated by a tab, no newline inside. Replies: "ok\t<text>" or
// "error\t<message>".
inline constexpr std::string_view control_reply_ok = "ok";
inline constexpr std::string_view control_reply_error = "error";

// Thread-safety: start() and stop() from one owning thread; requests are served one at a
// time on the socket's own thread, which is where the handler runs.
class control_socket {
 public:
  using handler = std::function<std::string(std::string_view request)>;

  // Removes a stale socket file at `path` (the caller holds the database, so no other server
  // uses this data dir), binds, restricts it to 0600 before listening, and starts serving.
  static result<std::unique_ptr<control_socket>> start(const std::filesystem::path& path, handler on_request);

  control_socket(const control_socket&) = delete;
  control_socket& operator=(const control_socket&) = delete;
  ~control_socket();  // stop()

  // Finishes the request in progress, stops accepting, removes the socket file. Idempotent.
  void stop();

 private:
  control_socket(std::filesystem::path path, int listen_fd, int wake_read, int wake_write, handler on_request);
  void run();
  void serve(int client_fd);

  std::filesystem::path path_;
  int listen_fd_;
  int wake_read_;
  int wake_write_;
  handler on_request_;
  std::thread thread_;
};

// Sends one request line to the socket at `path` and returns the reply line (without its
// newline). error_kind::not_found when nothing listens there (no file, or refused).
result<std::string> send_control_request(const std::filesystem::path& path, std::string_view request,
                                         std::chrono::seconds timeout);

}  // namespace callsign::server
