// One HTTP/1.1 connection as a C++20 coroutine on its own strand: the timeout is re-armed
// before every read and write, header and body limits apply, and expected ends (EOF, reset,
// timeout, cancellation) arrive as values through as_tuple.
#include <boost/beast/http.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include <chrono>
#include <cstdio>

#include "net/server_state.hpp"
#include "net/tls_stream.hpp"
#include "server/lists/upload_limit.hpp"
#include "server/problem.hpp"
#include "server/stream_auth.hpp"
#include "storage/change_set.hpp"

namespace callsign::server::net_detail {

namespace {
namespace http = beast::http;
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

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
  // A timer that never expires is the signal: the writer's completion stores the outcome and
  // cancels the timer on this strand, which resumes the coroutine here.
  auto executor = co_await net::this_coro::executor;
  auto signal = std::make_shared<net::steady_timer>(executor, net::steady_timer::time_point::max());
  auto outcome = std::make_shared<std::optional<result<storage::commit_receipt>>>();
  st.app.writer->submit(std::move(changes), [signal, outcome](result<storage::commit_receipt> done) {
    net::post(signal->get_executor(), [signal, outcome, done = std::move(done)]() mutable {
      outcome->emplace(std::move(done));
      signal->cancel();
    });
  });
  while (!outcome->has_value()) {
    co_await signal->async_wait(use_tuple);
  }
  co_return std::move(**outcome);
}

net::awaitable<http_response> run_route(server_state& st, const route_match& match, http_request& plain) {
  if (match.matched == nullptr) {
    co_return match.failure;
  }
  std::variant<http_response, deferred_response> outcome;
  if (match.matched->execution == route_execution::worker) {
    // Named, not a temporary inside the co_await: GCC 12 may destroy such temporaries twice.
    const route* r = match.matched;
    auto on_worker = [r, &plain]() -> net::awaitable<std::variant<http_response, deferred_response>> {
      co_return router::invoke(*r, plain);
    };
    auto spawned = net::co_spawn(st.workers, std::move(on_worker), net::use_awaitable);
    outcome = co_await std::move(spawned);
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
    auto commit = async_commit(st, std::move(deferred->changes));
    auto committed = co_await std::move(commit);
    co_return router::finish(*deferred, committed);
  }
  co_return std::move(std::get<http_response>(outcome));
}

template <class Stream>
net::awaitable<void> write_response(server_state& st, Stream& stream, http_response&& res, unsigned version,
                                    bool keep_alive, bool head, const std::string& request_id) {
  auto out = to_beast(std::move(res), version, keep_alive, head, request_id);
  stream.expires_after(st.app.config.request_timeout);
  co_await http::async_write(stream, out, use_tuple);
}

// How a connection ends once its last response is out.
net::awaitable<void> close_transport(server_state&, beast::tcp_stream& stream) {
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  co_return;
}

net::awaitable<void> close_transport(server_state& st, tls_stream& stream) {
  if (!stream.broken()) {
    // close_notify, so the client can tell the end from a truncation; its reply is not awaited.
    stream.expires_after(std::min<std::chrono::milliseconds>(st.app.config.request_timeout, std::chrono::seconds(2)));
    co_await stream.async_shutdown(use_tuple);
  }
  stream.expires_never();
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
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

}  // namespace

// The HTTP/1.1 loop, the same over beast::tcp_stream and over tls_stream.
template <class Stream>
net::awaitable<void> serve_requests(server_state& st, std::shared_ptr<connection> conn, Stream& stream) {
  const auto& cfg = st.app.config;
  beast::error_code remote_ec;
  auto endpoint = conn->stream.socket().remote_endpoint(remote_ec);
  std::string remote = remote_ec ? std::string() : endpoint.address().to_string();
  beast::flat_buffer buffer;

  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(cfg.header_limit));
    // [lists upload limit] The route is known only after the header, so the header is read
    // under the largest limit and the route's own limit (server/lists/upload_limit.hpp) is
    // applied right after it: PUT /v1/admin/lists/{name} may use lists.max_upload_bytes.
    parser.body_limit(largest_body_limit(cfg));

    conn->idle.store(true);
    if (st.app.draining.load()) {
      break;
    }
    stream.expires_after(cfg.request_timeout);
    auto [ec, bytes] = co_await http::async_read_header(stream, buffer, parser, use_tuple);
    if (!ec) {
      const auto route_limit = request_body_limit(
          cfg, std::string_view(parser.get().method_string().data(), parser.get().method_string().size()),
          std::string_view(parser.get().target().data(), parser.get().target().size()));
      parser.body_limit(route_limit);
      if (parser.content_length() && *parser.content_length() > route_limit) {
        ec = http::error::body_limit;
      }
    }
    // [/lists upload limit]
    conn->idle.store(false);
    auto started = std::chrono::steady_clock::now();
    if (!ec && !parser.is_done()) {
      auto expect = parser.get()[http::field::expect];
      if (beast::iequals(expect, "100-continue")) {
        http::response<http::empty_body> cont{http::status::continue_, parser.get().version()};
        stream.expires_after(cfg.request_timeout);
        std::tie(ec, bytes) = co_await http::async_write(stream, cont, use_tuple);
      }
      if (!ec) {
        stream.expires_after(cfg.request_timeout);
        std::tie(ec, bytes) = co_await http::async_read(stream, buffer, parser, use_tuple);
      }
    }
    if (ec) {
      if (auto failure = response_for_read_error(ec)) {
        http_request plain;
        plain.request_id = next_request_id(st);
        plain.remote_address = remote;
        plain.method = http_method::other;
        record(st, plain, 0, failure->status, started);
        co_await write_response(st, stream, std::move(*failure), 11, false, false, plain.request_id);
      }
      break;
    }

    if (beast::websocket::is_upgrade(parser.get()) && st.app.streams != nullptr) {
      auto target = parser.get().target();
      if (target.substr(0, target.find('?')) == "/v1/stream") {
        auto req = parser.release();
        auto copy = req;  // headers only: an upgrade has no body
        http_request plain = to_plain(std::move(copy), remote, st);
        auto match = st.routes.resolve(plain);
        if (!stream_origin_allowed(cfg.stream, plain.header("origin"), plain.header("host"))) {
          // Refused before the upgrade: a foreign page must not open a customer's stream.
          auto refused = problem_response(403, "Forbidden", "this Origin may not open the stream");
          record(st, plain, match.metrics_index, refused.status, started);
          co_await write_response(st, stream, std::move(refused), req.version(), false, false, plain.request_id);
          break;
        }
        record(st, plain, match.metrics_index, 101, started);
        start_stream_session(st, std::move(conn), std::move(req));  // outlives this coroutine
        co_return;
      }
    }

    auto version = parser.get().version();
    bool keep_alive = parser.get().keep_alive();
    http_request plain = to_plain(parser.release(), remote, st);
    auto match = st.routes.resolve(plain);
    http_response response = co_await run_route(st, match, plain);
    keep_alive = keep_alive && !st.app.draining.load();
    // Recorded before the write, so a client that reads /metrics right after its response
    // already sees its request counted.
    record(st, plain, match.metrics_index, response.status, started);
    co_await write_response(st, stream, std::move(response), version, keep_alive,
                            plain.method == http_method::head, plain.request_id);
    if (!keep_alive) {
      break;
    }
  }
  co_await close_transport(st, stream);
}

template net::awaitable<void> serve_requests(server_state&, std::shared_ptr<connection>, beast::tcp_stream&);
template net::awaitable<void> serve_requests(server_state&, std::shared_ptr<connection>, tls_stream&);


net::awaitable<void> run_session(server_state& st, std::shared_ptr<connection> conn) {
  if (!conn->tls) {
    co_await serve_requests(st, conn, conn->stream);
    co_return;
  }
  // The connection's tcp_stream is bypassed: OpenSSL reads and writes the socket, and
  // tls_stream carries the timeout.
  tls_stream stream(conn->stream.socket(), conn->tls.get());
  stream.expires_after(st.app.config.request_timeout);  // a stalled handshake cannot hold a slot
  conn->idle.store(true);                                // shutdown may cancel it at once
  auto [ec, ignored_bytes] = co_await stream.async_handshake(use_tuple);
  conn->idle.store(false);
  if (ec) {
    st.app.log.write(log_level::debug, "TLS handshake failed", {{"error", ec.message()}});
    beast::error_code ignored;
    conn->stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    co_return;
  }
  co_await serve_requests(st, conn, stream);
}

net::awaitable<void> refuse_connection(tcp::socket socket) {
  beast::tcp_stream stream(std::move(socket));
  auto res = to_beast(problem_response(503, "Service Unavailable", "too many open connections"), 11, false, false, {});
  stream.expires_after(std::chrono::seconds(2));
  co_await http::async_write(stream, res, use_tuple);
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

}  // namespace callsign::server::net_detail
