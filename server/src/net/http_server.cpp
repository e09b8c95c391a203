// Model: one io_context run by N threads; every connection lives on its own strand
// (make_strand at accept), so a session's handlers never run concurrently. Handlers that may
// block on disk run on a separate worker pool and their result hops back to the strand.
#include "server/http_server.hpp"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "net/connection_registry.hpp"
#include "server/problem.hpp"
#include "storage/change_set.hpp"

namespace callsign::server {

namespace {
namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

struct connection {
  explicit connection(tcp::socket&& socket) : stream(std::move(socket)) {}
  beast::tcp_stream stream;
  std::atomic<bool> idle{false};  // waiting for the next request's header
};

struct server_state {
  app_context& app;
  const router& routes;
  net::io_context& ioc;
  net::thread_pool& workers;
  net_detail::connection_registry<connection> connections;
  std::string request_id_prefix;
  std::atomic<std::uint64_t> request_counter{0};
};

std::string next_request_id(server_state& st) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%016llx",
                static_cast<unsigned long long>(st.request_counter.fetch_add(1, std::memory_order_relaxed)));
  return st.request_id_prefix + buf;
}

bool valid_request_id(std::string_view id) {
  if (id.empty() || id.size() > 64) {
    return false;
  }
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
              c == '.';
    if (!ok) {
      return false;
    }
  }
  return true;
}

http_request to_plain(http::request<http::string_body>&& req, std::string remote, server_state& st) {
  http_request plain;
  plain.method = parse_http_method(std::string_view(req.method_string().data(), req.method_string().size()));
  plain.target = std::string(req.target());
  auto q = plain.target.find('?');
  plain.path = plain.target.substr(0, q);
  if (q != std::string::npos) {
    plain.query = plain.target.substr(q + 1);
  }
  for (const auto& field : req) {
    std::string name(field.name_string());
    for (auto& c : name) {
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    plain.headers.push_back({std::move(name), std::string(field.value())});
  }
  plain.body = std::move(req.body());
  plain.remote_address = std::move(remote);
  auto incoming = plain.header("x-request-id");
  plain.request_id = incoming && valid_request_id(*incoming) ? std::string(*incoming) : next_request_id(st);
  return plain;
}

http::response<http::string_body> to_beast(http_response&& res, unsigned version, bool keep_alive, bool head,
                                           std::string_view request_id) {
  http::response<http::string_body> out;
  out.version(version);
  out.result(res.status);
  out.set(http::field::server, "callsign");
  if (!res.content_type.empty()) {
    out.set(http::field::content_type, res.content_type);
  }
  out.set(http::field::cache_control, "no-store");
  out.set("X-Content-Type-Options", "nosniff");
  if (!request_id.empty()) {
    out.set("X-Request-Id", request_id);
  }
  for (auto& h : res.headers) {
    out.set(h.name, h.value);
  }
  out.keep_alive(keep_alive);
  out.body() = std::move(res.body);
  out.prepare_payload();
  if (head) {
    out.body().clear();
  }
  return out;
}

// Maps a failed read of the request to the response it deserves, or none (just close).
std::optional<http_response> response_for_read_error(const beast::error_code& ec) {
  if (ec == http::error::header_limit) {
    return problem_response(431, "Request Header Fields Too Large", "request headers exceed the configured limit");
  }
  if (ec == http::error::body_limit) {
    return problem_response(413, "Content Too Large", "request body exceeds the configured limit");
  }
  if (ec.category() == http::make_error_code(http::error::bad_method).category() &&
      ec != http::error::end_of_stream && ec != http::error::partial_message) {
    return problem_response(400, "Bad Request", "malformed HTTP request");
  }
  return std::nullopt;  // timeout, reset, EOF, cancellation
}

// Hands a change set to the group-commit writer and resumes on this connection's strand once
// it is synced. No thread waits: many requests share one fsync.
net::awaitable<result<storage::commit_receipt>> async_commit(server_state& st, storage::change_set changes) {
  auto executor = co_await net::this_coro::executor;
  using signature = void(result<storage::commit_receipt>);
  co_return co_await net::async_initiate<decltype(net::use_awaitable), signature>(
      [&st, executor](auto handler, storage::change_set ch) {
        auto waiting = std::make_shared<decltype(handler)>(std::move(handler));
        st.app.writer->submit(std::move(ch), [waiting, executor](result<storage::commit_receipt> done) {
          net::post(executor, [waiting, done = std::move(done)]() mutable { (*waiting)(std::move(done)); });
        });
      },
      net::use_awaitable, std::move(changes));
}

net::awaitable<http_response> run_route(server_state& st, const route_match& match, http_request& plain) {
  if (match.matched == nullptr) {
    co_return match.failure;
  }
  std::variant<http_response, deferred_response> outcome;
  if (match.matched->execution == route_execution::worker) {
    const route* r = match.matched;
    outcome = co_await net::co_spawn(
        st.workers,
        [r, &plain]() -> net::awaitable<std::variant<http_response, deferred_response>> {
          co_return router::invoke(*r, plain);
        },
        net::use_awaitable);
  } else {
    outcome = router::invoke(*match.matched, plain);
  }
  if (auto* deferred = std::get_if<deferred_response>(&outcome)) {
    if (deferred->changes.empty()) {
      co_return router::finish(*deferred, storage::commit_receipt{});
    }
    if (st.app.writer == nullptr) {
      co_return router::finish(*deferred, make_error(error_kind::unavailable, "storage writer is not running"));
    }
    auto committed = co_await async_commit(st, std::move(deferred->changes));
    co_return router::finish(*deferred, committed);
  }
  co_return std::move(std::get<http_response>(outcome));
}

net::awaitable<void> write_response(server_state& st, connection& conn, http_response&& res, unsigned version,
                                    bool keep_alive, bool head, const std::string& request_id) {
  auto out = to_beast(std::move(res), version, keep_alive, head, request_id);
  conn.stream.expires_after(st.app.config.request_timeout);
  co_await http::async_write(conn.stream, out, use_tuple);
}

void record(server_state& st, const http_request& req, std::size_t route_index, unsigned status,
            std::chrono::steady_clock::time_point started) {
  auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (st.app.stats) {
    st.app.stats->record_request(route_index, req.method, status, seconds);
  }
  st.app.log.info("request", {{"request_id", req.request_id},
                              {"method", http_method_name(req.method)},
                              {"path", req.path},
                              {"route", st.routes.route_labels()[route_index]},
                              {"status", status},
                              {"duration_ms", seconds * 1000.0},
                              {"remote", req.remote_address}});
}

net::awaitable<void> run_session(server_state& st, std::shared_ptr<connection> conn) {
  const auto& cfg = st.app.config;
  beast::error_code remote_ec;
  auto endpoint = conn->stream.socket().remote_endpoint(remote_ec);
  std::string remote = remote_ec ? std::string() : endpoint.address().to_string();
  beast::flat_buffer buffer;

  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(cfg.header_limit));
    parser.body_limit(cfg.body_limit);

    conn->idle.store(true);
    if (st.app.draining.load()) {
      break;
    }
    conn->stream.expires_after(cfg.request_timeout);
    auto [ec, bytes] = co_await http::async_read_header(conn->stream, buffer, parser, use_tuple);
    conn->idle.store(false);
    auto started = std::chrono::steady_clock::now();
    if (!ec && !parser.is_done()) {
      auto expect = parser.get()[http::field::expect];
      if (beast::iequals(expect, "100-continue")) {
        http::response<http::empty_body> cont{http::status::continue_, parser.get().version()};
        conn->stream.expires_after(cfg.request_timeout);
        std::tie(ec, bytes) = co_await http::async_write(conn->stream, cont, use_tuple);
      }
      if (!ec) {
        conn->stream.expires_after(cfg.request_timeout);
        std::tie(ec, bytes) = co_await http::async_read(conn->stream, buffer, parser, use_tuple);
      }
    }
    if (ec) {
      if (auto failure = response_for_read_error(ec)) {
        http_request plain;
        plain.request_id = next_request_id(st);
        plain.remote_address = remote;
        plain.method = http_method::other;
        auto status = failure->status;
        co_await write_response(st, *conn, std::move(*failure), 11, false, false, plain.request_id);
        record(st, plain, 0, status, started);
      }
      break;
    }

    auto version = parser.get().version();
    bool keep_alive = parser.get().keep_alive();
    http_request plain = to_plain(parser.release(), remote, st);
    auto match = st.routes.resolve(plain);
    http_response response = co_await run_route(st, match, plain);
    keep_alive = keep_alive && !st.app.draining.load();
    auto status = response.status;
    co_await write_response(st, *conn, std::move(response), version, keep_alive,
                            plain.method == http_method::head, plain.request_id);
    record(st, plain, match.metrics_index, status, started);
    if (!keep_alive) {
      break;
    }
  }
  beast::error_code ignored;
  conn->stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

net::awaitable<void> refuse_connection(server_state& st, tcp::socket socket) {
  beast::tcp_stream stream(std::move(socket));
  auto res = to_beast(problem_response(503, "Service Unavailable", "too many open connections"), 11, false, false, {});
  stream.expires_after(std::chrono::seconds(2));
  co_await http::async_write(stream, res, use_tuple);
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  (void)st;
}

net::awaitable<void> accept_loop(server_state& st, tcp::acceptor& acceptor) {
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(net::make_strand(st.ioc), use_tuple);
    if (ec) {
      if (ec == net::error::operation_aborted || !acceptor.is_open()) {
        co_return;
      }
      st.app.log.warn("accept failed", {{"error", ec.message()}});
      // Out of descriptors: back off instead of spinning.
      net::steady_timer pause(st.ioc, std::chrono::milliseconds(50));
      co_await pause.async_wait(use_tuple);
      continue;
    }
    if (st.connections.size() >= st.app.config.max_connections || st.app.draining.load()) {
      auto executor = socket.get_executor();
      net::co_spawn(executor, refuse_connection(st, std::move(socket)), net::detached);
      continue;
    }
    auto conn = std::make_shared<connection>(std::move(socket));
    auto id = st.connections.add(conn);
    if (st.app.stats) {
      st.app.stats->connection_opened();
    }
    net::co_spawn(conn->stream.get_executor(), run_session(st, conn), [&st, id](std::exception_ptr e) {
      st.connections.remove(id);
      if (st.app.stats) {
        st.app.stats->connection_closed();
      }
      if (e) {
        st.app.log.error("session ended by an exception");
      }
    });
  }
}

net::awaitable<void> drain_and_stop(server_state& st, tcp::acceptor& acceptor) {
  st.app.draining.store(true);
  beast::error_code ignored;
  acceptor.close(ignored);
  // Idle connections are cancelled at once; busy ones finish their request and then close.
  st.connections.for_each([](const std::shared_ptr<connection>& conn) {
    net::post(conn->stream.get_executor(), [conn] {
      if (conn->idle.load()) {
        conn->stream.cancel();
      }
    });
  });
  auto deadline = std::chrono::steady_clock::now() + st.app.config.shutdown_timeout;
  net::steady_timer timer(st.ioc);
  while (st.connections.size() > 0 && std::chrono::steady_clock::now() < deadline) {
    timer.expires_after(std::chrono::milliseconds(20));
    co_await timer.async_wait(use_tuple);
  }
  auto remaining = st.connections.size();
  st.app.log.info("stopped", {{"abandoned_connections", static_cast<std::uint64_t>(remaining)}});
  st.ioc.stop();
}

result<void> write_port_file(const std::filesystem::path& path, std::uint16_t port) {
  auto tmp = path;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << port << "\n";
    if (!out.flush()) {
      return make_error(error_kind::unavailable, "cannot write port file " + path.string());
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    return make_error(error_kind::unavailable, "cannot write port file " + path.string() + ": " + ec.message());
  }
  return {};
}
}  // namespace

int serve_http(app_context& app, const router& routes) {
  const auto& cfg = app.config;
  unsigned io_threads = cfg.io_threads != 0 ? cfg.io_threads : std::max(1U, std::thread::hardware_concurrency());
  net::io_context ioc(static_cast<int>(io_threads));
  net::thread_pool workers(cfg.worker_threads);

  std::random_device rd;
  char prefix[16];
  std::snprintf(prefix, sizeof prefix, "%08x-", rd());
  server_state st{app, routes, ioc, workers, {}, prefix, {}};

  beast::error_code ec;
  auto address = net::ip::make_address(cfg.listen.host, ec);
  if (ec) {
    app.log.error("server.listen host must be an IP address", {{"host", cfg.listen.host}});
    return 2;
  }
  tcp::acceptor acceptor(ioc);
  tcp::endpoint endpoint(address, cfg.listen.port);
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    app.log.error("cannot listen", {{"address", cfg.listen.host}, {"port", unsigned{cfg.listen.port}},
                                    {"error", ec.message()}});
    return 1;
  }
  auto bound = acceptor.local_endpoint();
  if (cfg.port_file) {
    if (auto written = write_port_file(*cfg.port_file, bound.port()); !written) {
      app.log.error(written.error().message);
      return 1;
    }
  }
  app.log.info("listening", {{"address", bound.address().to_string()},
                             {"port", unsigned{bound.port()}},
                             {"io_threads", io_threads},
                             {"worker_threads", cfg.worker_threads}});

  net::co_spawn(ioc, accept_loop(st, acceptor), net::detached);
  net::signal_set signals(ioc, SIGINT, SIGTERM);
  signals.async_wait([&](const beast::error_code& sig_ec, int signo) {
    if (sig_ec) {
      return;
    }
    app.log.info("shutting down", {{"signal", signo}});
    net::co_spawn(ioc, drain_and_stop(st, acceptor), net::detached);
  });

  std::vector<std::thread> threads;
  for (unsigned i = 1; i < io_threads; ++i) {
    threads.emplace_back([&ioc] { ioc.run(); });
  }
  ioc.run();
  for (auto& t : threads) {
    t.join();
  }
  workers.join();
  return 0;
}

}  // namespace callsign::server
