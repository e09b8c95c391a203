// A real redis-server (or redis-sentinel) for a test: started on a free 127.0.0.1 port in a
// given directory, ready once it answers PING, stopped with SIGTERM (exit status returned, so a
// test can require 0). Header-only, no Boost.Test dependency: failures to start throw
// std::runtime_error with the tail of the server's log.
//
//   test::temp_directory dir;
//   test::redis_process server(dir.path());                       // redis-server, no persistence
//   test::redis_process replica(dir.path(), {.name = "replica",
//       .config_lines = {"replicaof 127.0.0.1 " + std::to_string(server.port())}});
//   BOOST_CHECK_EQUAL(server.stop(), 0);
//
// Thread-safety: none; use one object from one thread. pid()/port() may be read anywhere.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

extern char** environ;  // NOLINT(readability-redundant-declaration): for posix_spawn

namespace callsign::test {

struct redis_process_options {
  std::string binary = "/usr/bin/redis-server";  // or "/usr/bin/redis-sentinel"
  std::string name = "redis";  // <dir>/<name>.conf, .log, and the data files' prefix
  // Extra config lines, e.g. "replicaof 127.0.0.1 7000", "appendonly yes", "requirepass x",
  // "user app on >pw ~cs:* +@all", "sentinel monitor m 127.0.0.1 7000 2".
  std::vector<std::string> config_lines{};
  // `save ""` and `appendonly no` before config_lines (set false for a sentinel).
  bool no_persistence = true;
  std::uint16_t port = 0;  // 0: a free port (retried on a collision)
  // For the readiness PING and command(): AUTH [username] password first when set.
  std::string username{};
  std::string password{};
  std::chrono::milliseconds start_timeout{15000};
};

class redis_process {
 public:
  redis_process(std::filesystem::path dir, redis_process_options options = {})
      : dir_(std::move(dir)), options_(std::move(options)) {
    port_ = options_.port;
    start();
  }
  redis_process(const redis_process&) = delete;
  redis_process& operator=(const redis_process&) = delete;
  ~redis_process() {
    if (pid_ > 0) {
      const int status = stop();
      if (status != 0) {
        std::fprintf(stderr, "redis_process %s: exit status %d at destruction\n",
                     options_.name.c_str(), status);
      }
    }
  }

  std::uint16_t port() const noexcept { return port_; }
  pid_t pid() const noexcept { return pid_; }
  bool running() const noexcept { return pid_ > 0; }
  std::filesystem::path config_path() const { return dir_ / (options_.name + ".conf"); }
  std::filesystem::path log_path() const { return dir_ / (options_.name + ".log"); }

  // Starts again after stop() or kill(), on the same port (a restart: a new run_id).
  void start() {
    if (pid_ > 0) throw std::runtime_error("redis_process: already running");
    const bool pick_port = options_.port == 0 && !started_once_;  // a restart keeps its port
    std::string why;
    for (int attempt = 0; attempt < (pick_port ? 5 : 3); ++attempt) {
      if (pick_port) port_ = pick_free_port();
      write_config();
      spawn();
      const auto outcome = wait_ready();
      if (!outcome) {
        started_once_ = true;
        return;
      }
      why = *outcome;
      if (why.find("Address already in use") == std::string::npos) break;
    }
    throw std::runtime_error("redis_process " + options_.name + " did not start: " + why);
  }

  // SIGTERM, then waits (bounded; SIGKILL after 20 s). Returns the exit status: 0 is a clean
  // exit, 128+N a death by signal N, -1 when it was not running.
  int stop() {
    if (pid_ <= 0) return -1;
    ::kill(pid_, SIGTERM);
    ::kill(pid_, SIGCONT);  // a paused process must run to exit
    return reap(std::chrono::seconds(20));
  }
  // SIGKILL (a crash); reaped at once.
  void kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    (void)reap(std::chrono::seconds(20));
  }
  // Each returns once the kernel shows the new state (/proc/<pid>/stat): kill() only queues the
  // signal, and on a busy machine a PING sent right after SIGSTOP could still be answered.
  void pause() {
    signal_running(SIGSTOP);
    wait_for_state(true);
  }
  void resume() {
    signal_running(SIGCONT);
    wait_for_state(false);
  }

  // Sends one command (RESP array of bulk strings) on a fresh connection, after AUTH when
  // configured, and returns the last reply's raw RESP text ("+PONG\r\n"). Throws on a
  // connection failure or when no complete reply arrives within `timeout`.
  std::string command(const std::vector<std::string>& args,
                      std::chrono::milliseconds timeout = std::chrono::milliseconds(5000)) const {
    std::vector<std::vector<std::string>> commands;
    if (!options_.password.empty()) {
      commands.push_back(options_.username.empty()
                             ? std::vector<std::string>{"AUTH", options_.password}
                             : std::vector<std::string>{"AUTH", options_.username, options_.password});
    }
    commands.push_back(args);
    return exchange(port_, commands, timeout);
  }

  // A loopback port free right now (e.g. for a second listener such as tls-port).
  static std::uint16_t free_port() { return pick_free_port(); }

  // One RESP exchange with any loopback port: every command sent, the last reply returned.
  static std::string exchange(std::uint16_t port, const std::vector<std::vector<std::string>>& commands,
                              std::chrono::milliseconds timeout) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw std::runtime_error("redis_process: socket failed");
    sockaddr_in address = loopback(port);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
      ::close(fd);
      throw std::runtime_error("redis_process: connect to port " + std::to_string(port) + " failed");
    }
    std::string out;
    for (const auto& args : commands) {
      out += "*" + std::to_string(args.size()) + "\r\n";
      for (const auto& arg : args) out += "$" + std::to_string(arg.size()) + "\r\n" + arg + "\r\n";
    }
    if (::send(fd, out.data(), out.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(out.size())) {
      ::close(fd);
      throw std::runtime_error("redis_process: send failed");
    }
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::string in;
    std::size_t replies = 0;
    std::size_t last_start = 0;
    while (true) {
      std::size_t position = last_start;
      while (replies < commands.size()) {
        const std::size_t start = position;
        if (!skip_reply(in, position)) break;
        last_start = start;
        ++replies;
        if (replies < commands.size()) last_start = position;
      }
      if (replies == commands.size()) {
        ::close(fd);
        return in.substr(last_start, position - last_start);
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      pollfd waiting{fd, POLLIN, 0};
      if (left.count() <= 0 || ::poll(&waiting, 1, static_cast<int>(left.count())) <= 0) {
        ::close(fd);
        throw std::runtime_error("redis_process: no complete reply on port " + std::to_string(port));
      }
      char buffer[65536];
      const ssize_t got = ::recv(fd, buffer, sizeof buffer, 0);
      if (got <= 0) {
        ::close(fd);
        throw std::runtime_error("redis_process: connection closed on port " + std::to_string(port));
      }
      in.append(buffer, static_cast<std::size_t>(got));
    }
  }

 private:
  static sockaddr_in loopback(std::uint16_t port) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return address;
  }

  static std::uint16_t pick_free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw std::runtime_error("redis_process: socket failed");
    sockaddr_in address = loopback(0);
    socklen_t length = sizeof address;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      ::close(fd);
      throw std::runtime_error("redis_process: cannot find a free port");
    }
    ::close(fd);
    return ntohs(address.sin_port);
  }

  // Advances `position` past one complete RESP reply in `in`; false when incomplete.
  static bool skip_reply(const std::string& in, std::size_t& position) {
    const auto line_end = in.find("\r\n", position);
    if (line_end == std::string::npos || line_end == position) return false;
    const char type = in[position];
    const std::string line = in.substr(position + 1, line_end - position - 1);
    std::size_t next = line_end + 2;
    if (type == '$') {
      const long long length = std::stoll(line);
      if (length >= 0) {
        next += static_cast<std::size_t>(length) + 2;
        if (next > in.size()) return false;
      }
    } else if (type == '*') {
      const long long count = std::stoll(line);
      for (long long i = 0; i < count; ++i) {
        if (!skip_reply(in, next)) return false;
      }
    }
    position = next;
    return true;
  }

  void write_config() const {
    std::ofstream config(config_path(), std::ios::trunc);
    config << "port " << port_ << "\nbind 127.0.0.1\ndaemonize no\n"
           << "dir " << dir_.string() << "\nlogfile " << log_path().string() << "\n"
           << "dbfilename " << options_.name << ".rdb\n";
    if (options_.no_persistence) config << "save \"\"\nappendonly no\n";
    config << "appenddirname " << options_.name << "-aof\n";
    for (const auto& line : options_.config_lines) config << line << "\n";
    if (!config) throw std::runtime_error("redis_process: cannot write " + config_path().string());
  }

  void spawn() {
    std::error_code ignored;
    std::filesystem::remove(log_path(), ignored);  // the log tail we report is this run's
    std::filesystem::remove(dir_ / (options_.name + ".out"), ignored);
    const std::string config = config_path().string();
    std::vector<char*> argv{const_cast<char*>(options_.binary.c_str()), const_cast<char*>(config.c_str()),
                            nullptr};
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    const std::string out = (dir_ / (options_.name + ".out")).string();
    posix_spawn_file_actions_addopen(&actions, 1, out.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    pid_t child = 0;
    const int failed = posix_spawn(&child, options_.binary.c_str(), &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (failed != 0) throw std::runtime_error("redis_process: cannot run " + options_.binary);
    pid_ = child;
  }

  // Empty when ready; otherwise why not (the process is then reaped or killed).
  std::optional<std::string> wait_ready() {
    const auto deadline = std::chrono::steady_clock::now() + options_.start_timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return "exited during start (status " + std::to_string(status) + "): " + log_tail();
      }
      try {
        const std::string answer = command({"PING"}, std::chrono::milliseconds(1000));
        if (answer.rfind("+PONG", 0) == 0) return std::nullopt;
      } catch (const std::runtime_error&) {
        // not listening yet
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));  // poll interval, not a wait for "nothing"
    }
    ::kill(pid_, SIGKILL);
    (void)reap(std::chrono::seconds(20));
    return "no PONG within " + std::to_string(options_.start_timeout.count()) + " ms: " + log_tail();
  }

  int reap(std::chrono::seconds bound) {
    const auto deadline = std::chrono::steady_clock::now() + bound;
    int status = 0;
    while (::waitpid(pid_, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    pid_ = -1;
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : -1;
  }

  void signal_running(int signal) {
    if (pid_ <= 0) throw std::runtime_error("redis_process: not running");
    ::kill(pid_, signal);
  }

  // Waits up to 10 s until the process is stopped ('T' in /proc/<pid>/stat) or no longer is.
  void wait_for_state(bool stopped) const {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    for (;;) {
      std::ifstream stat("/proc/" + std::to_string(pid_) + "/stat");
      std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
      const auto paren = text.rfind(')');
      if (paren != std::string::npos && paren + 2 < text.size() && (text[paren + 2] == 'T') == stopped) return;
      if (std::chrono::steady_clock::now() > deadline) {
        throw std::runtime_error(std::string("redis_process: the process did not ") + (stopped ? "stop" : "continue"));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }

  // The end of this run's log and of its stdout/stderr (where config errors go).
  std::string log_tail() const {
    std::string text;
    for (const auto& path : {log_path(), dir_ / (options_.name + ".out")}) {
      std::ifstream file(path);
      std::string part((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
      text += part.size() > 1500 ? part.substr(part.size() - 1500) : part;
    }
    return text;
  }

  std::filesystem::path dir_;
  redis_process_options options_;
  std::uint16_t port_ = 0;
  pid_t pid_ = -1;
  bool started_once_ = false;
};

}  // namespace callsign::test
