// async_response through the real session (serve_http on port 0): replies resumed from another
// thread reach the right connection, continue on that connection's I/O thread, chain, commit
// through the sink, and a reply never resumed does not hold up or crash the shutdown.
#define BOOST_TEST_MODULE async_routes
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/test/unit_test.hpp>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <deque>
#include <fstream>
#include <functional>
#include <future>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "server/app_context.hpp"
#include "server/http/router.hpp"
#include "server/net/http_server.hpp"
#include "storage/database.hpp"
#include "support/temp_directory.hpp"

using namespace callsign;
using namespace callsign::server;
using namespace std::chrono_literals;

namespace {

// One thread that runs what it is given in order: the stand-in for a networked backend's own
// I/O thread, which is where its completions (and so the resumes) run.
class other_thread {
 public:
  other_thread() : thread_([this] { loop(); }) {}
  ~other_thread() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    ready_.notify_one();
    thread_.join();
  }
  void run(std::function<void()> job) {
    {
      std::lock_guard lock(mutex_);
      jobs_.push_back(std::move(job));
    }
    ready_.notify_one();
  }
  std::thread::id id() const { return thread_.get_id(); }

 private:
  void loop() {
    std::unique_lock lock(mutex_);
    for (;;) {
      ready_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
      if (jobs_.empty()) return;
      auto job = std::move(jobs_.front());
      jobs_.pop_front();
      lock.unlock();
      job();
      lock.lock();
    }
  }
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::function<void()>> jobs_;
  bool stopping_ = false;
  std::thread thread_;
};

// Commits nothing; completes every change set on `completer`, as the group-commit writer does on its thread.
class thread_sink final : public storage::commit_sink {
 public:
  explicit thread_sink(other_thread& completer) : completer_(completer) {}
  void submit(storage::change_set changes, std::function<void(result<storage::commit_receipt>)> done) override {
    submitted.fetch_add(changes.ops.size());
    completer_.run([done = std::move(done)] { done(storage::commit_receipt{}); });
  }
  storage::group_commit_stats stats() const noexcept override { return {}; }
  std::atomic<std::size_t> submitted{0};

 private:
  other_thread& completer_;
};

http_response text(std::string body) {
  http_response response;
  response.content_type = "text/plain";
  response.body = std::move(body);
  return response;
}

std::string same_thread(std::thread::id a) { return a == std::this_thread::get_id() ? "same" : "moved"; }

struct served {
  test::temp_directory dir;
  std::FILE* log_sink = std::tmpfile();
  json_log log{log_sink};
  storage::system_clock_source clock;
  std::unique_ptr<storage::database> db = [this] {
    auto opened = storage::database::open({dir.path() / "db", true});
    BOOST_REQUIRE(opened);
    return std::move(opened).value();
  }();
  other_thread backend;
  thread_sink sink{backend};
  std::unique_ptr<app_context> app;
  router routes;
  std::mutex stash_mutex;
  std::vector<std::function<void(handler_result)>> never_resumed;  // GET /never's resumes
  std::thread server;
  std::promise<int> exit_code;
  unsigned short port = 0;

  served() {
    server_config config;
    config.listen = {"127.0.0.1", 0};
    config.port_file = dir.path() / "port";
    config.io_threads = 2;
    config.worker_threads = 2;
    config.shutdown_timeout = 300ms;
    auto ring = crypto::key_ring::generate();
    BOOST_REQUIRE(ring);
    app = std::make_unique<app_context>(config, log, clock, *db, std::move(ring).value());
    app->writer = &sink;
    add_routes();
    server = std::thread([this] { exit_code.set_value(serve_http(*app, routes)); });
    for (auto deadline = std::chrono::steady_clock::now() + 20s; port == 0;) {
      std::ifstream in(dir.path() / "port");
      unsigned value = 0;
      if (in >> value) port = static_cast<unsigned short>(value);
      BOOST_REQUIRE(bool(std::chrono::steady_clock::now() < deadline));
      if (port == 0) std::this_thread::sleep_for(10ms);  // polling the port file, bounded above
    }
  }

  // SIGTERM, as a supervisor sends it; serve_http must drain and answer 0.
  int stop() {
    ::kill(::getpid(), SIGTERM);
    auto code = exit_code.get_future();
    BOOST_REQUIRE(code.wait_for(20s) == std::future_status::ready);
    server.join();
    return code.get();
  }

  ~served() {
    if (server.joinable()) {  // a failed test: still end the server before its state goes
      ::kill(::getpid(), SIGTERM);
      server.join();
    }
    std::fclose(log_sink);
  }

  void add_routes() {
    // Resumed from the backend thread; the body proves which request it answers and where the
    // session continued (the chained start runs where the session resumed: it must be the
    // handler's own I/O thread, never the backend's).
    routes.add(http_method::get, "/async/{n}", [this](http_request& request) -> handler_result {
      const auto handler_thread = std::this_thread::get_id();
      std::string n(*request.path_param("n"));
      return async_response{[this, handler_thread, n](std::function<void(handler_result)> resume) {
        const std::string started = same_thread(handler_thread);  // start runs where the handler ran
        backend.run([this, handler_thread, n, started, resume = std::move(resume)] {
          resume(async_response{[this, handler_thread, n, started](std::function<void(handler_result)> again) {
            const std::string where = same_thread(handler_thread);
            backend.run([n, started, where, again = std::move(again)] { again(text(n + " " + started + " " + where)); });
          }});
        });
      }};
    });
    routes.add(http_method::get, "/inline", [](http_request&) -> handler_result {
      return async_response{[](std::function<void(handler_result)> resume) { resume(text("inline")); }};
    });
    // Resumed twice, inline: the second is ignored.
    routes.add(http_method::get, "/twice", [](http_request&) -> handler_result {
      return async_response{[](std::function<void(handler_result)> resume) {
        resume(text("first"));
        resume(text("second"));
      }};
    });
    routes.add(http_method::post, "/deferred", [this](http_request&) -> handler_result {
      return async_response{[this](std::function<void(handler_result)> resume) {
        backend.run([resume = std::move(resume)] {
          deferred_response deferred;
          deferred.changes.put(storage::column_family::meta, "k", "v");
          deferred.finish = [](const result<storage::commit_receipt>& done) {
            return text(done ? "committed" : "failed");
          };
          resume(std::move(deferred));
        });
      }};
    });
    routes.add(http_method::get, "/error", [this](http_request&) -> handler_result {
      return async_response{[this](std::function<void(handler_result)> resume) {
        backend.run([resume = std::move(resume)] { resume(make_error(error_kind::conflict, "taken")); });
      }};
    });
    routes.add(http_method::get, "/throws", [](http_request&) -> handler_result {
      return async_response{[](std::function<void(handler_result)>) { throw std::runtime_error("secret detail"); }};
    });
    routes.add(
        http_method::get, "/worker", [this](http_request&) -> handler_result {
          const auto handler_thread = std::this_thread::get_id();
          return async_response{[this, handler_thread](std::function<void(handler_result)> resume) {
            const std::string where = same_thread(handler_thread);
            backend.run([where, resume = std::move(resume)] { resume(text("worker " + where)); });
          }};
        },
        route_execution::worker);
    routes.add(http_method::get, "/never", [this](http_request&) -> handler_result {
      return async_response{[this](std::function<void(handler_result)> resume) {
        std::lock_guard lock(stash_mutex);
        never_resumed.push_back(std::move(resume));
      }};
    });
  }

  std::size_t stashed() {
    std::lock_guard lock(stash_mutex);
    return never_resumed.size();
  }
};

// A blocking HTTP/1.1 client over one keep-alive connection.
class client {
 public:
  explicit client(unsigned short port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
    timeval timeout{20, 0};  // a missing reply fails the test instead of hanging it
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  }
  ~client() { ::close(fd_); }
  bool connected() const { return connected_; }

  void send(const std::string& method, const std::string& path) {
    std::string wire = method + " " + path + " HTTP/1.1\r\nHost: test\r\nContent-Length: 0\r\n\r\n";
    BOOST_REQUIRE(::write(fd_, wire.data(), wire.size()) == static_cast<ssize_t>(wire.size()));
  }

  // (status, body) of the next response; status 0 when the connection ended first.
  std::pair<unsigned, std::string> receive() {
    std::size_t header_end;
    while ((header_end = buffer_.find("\r\n\r\n")) == std::string::npos) {
      if (!fill()) return {0, {}};
    }
    const std::string head = buffer_.substr(0, header_end);
    std::size_t length = 0;
    if (auto at = head.find("Content-Length: "); at != std::string::npos) length = std::stoul(head.substr(at + 16));
    while (buffer_.size() < header_end + 4 + length) {
      if (!fill()) return {0, {}};
    }
    std::string body = buffer_.substr(header_end + 4, length);
    buffer_.erase(0, header_end + 4 + length);
    return {static_cast<unsigned>(std::stoul(head.substr(9, 3))), body};
  }

  std::pair<unsigned, std::string> request(const std::string& method, const std::string& path) {
    send(method, path);
    return receive();
  }

 private:
  bool fill() {
    char chunk[4096];
    auto got = ::read(fd_, chunk, sizeof chunk);
    if (got <= 0) return false;
    buffer_.append(chunk, static_cast<std::size_t>(got));
    return true;
  }
  int fd_;
  bool connected_ = false;
  std::string buffer_;
};

}  // namespace

BOOST_AUTO_TEST_SUITE(async_routes)

BOOST_AUTO_TEST_CASE(replies_resumed_on_another_thread_answer_their_own_connections) {
  served s;
  constexpr int connections = 12;
  constexpr int requests = 30;
  std::atomic<int> right{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < connections; ++c) {
    clients.emplace_back([&, c] {
      client conn(s.port);
      if (!conn.connected()) return;
      for (int i = 0; i < requests; ++i) {
        const std::string n = std::to_string(c * 1000 + i);
        auto [status, body] = conn.request("GET", "/async/" + n);
        if (status != 200 || body != n + " same same") return;  // the rest would wait as long
        right.fetch_add(1);
      }
    });
  }
  for (auto& t : clients) t.join();
  BOOST_TEST(right.load() == connections * requests);
  BOOST_TEST(s.stop() == 0);
}

BOOST_AUTO_TEST_CASE(inline_chained_deferred_error_throwing_and_worker_replies) {
  served s;
  client conn(s.port);
  BOOST_REQUIRE(conn.connected());
  // Inline resumes, many in a row on one connection: no recursion, no post needed.
  for (int i = 0; i < 200; ++i) {
    auto [status, body] = conn.request("GET", "/inline");
    BOOST_REQUIRE(status == 200U);
    BOOST_REQUIRE(body == "inline");
  }
  auto twice = conn.request("GET", "/twice");
  BOOST_TEST(twice.first == 200U);
  BOOST_TEST(twice.second == "first");
  auto deferred = conn.request("POST", "/deferred");
  BOOST_TEST(deferred.first == 200U);
  BOOST_TEST(deferred.second == "committed");
  BOOST_TEST(s.sink.submitted.load() == 1U);  // the continuation's change set went to the writer
  auto failed = conn.request("GET", "/error");
  BOOST_TEST(failed.first == 409U);
  BOOST_TEST(failed.second.find("taken") != std::string::npos);
  auto thrown = conn.request("GET", "/throws");
  BOOST_TEST(thrown.first == 500U);
  BOOST_TEST(thrown.second.find("secret") == std::string::npos);
  // A worker route's start runs on the worker that ran its handler.
  auto worker = conn.request("GET", "/worker");
  BOOST_TEST(worker.first == 200U);
  BOOST_TEST(worker.second == "worker same");
  // The connection still serves after all of them.
  BOOST_TEST(conn.request("GET", "/async/7").second == "7 same same");
  BOOST_TEST(s.stop() == 0);
}

BOOST_AUTO_TEST_CASE(a_reply_never_resumed_is_abandoned_at_shutdown) {
  served s;
  client waiting(s.port);
  BOOST_REQUIRE(waiting.connected());
  waiting.send("GET", "/never");
  for (auto deadline = std::chrono::steady_clock::now() + 20s; s.stashed() == 0;) {
    BOOST_REQUIRE(bool(std::chrono::steady_clock::now() < deadline));
    std::this_thread::sleep_for(5ms);  // polling for the handler to have started, bounded above
  }
  // The drain waits shutdown_timeout (300 ms) for the busy connection, then gives it up.
  const auto stopping = std::chrono::steady_clock::now();
  BOOST_TEST(s.stop() == 0);
  BOOST_TEST(bool(std::chrono::steady_clock::now() - stopping < 10s));
  BOOST_TEST(waiting.receive().first == 0U);  // closed without a reply
  // The session's coroutine is gone with its io_context; resuming now must touch nothing of it
  // (ASan reports any use after free).
  std::lock_guard lock(s.stash_mutex);
  s.never_resumed.front()(text("too late"));
  s.never_resumed.clear();
}

BOOST_AUTO_TEST_SUITE_END()
