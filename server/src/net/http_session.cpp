// One HTTP/1.1 connection as a C++20 coroutine on its connection's I/O thread: the timeout is re-armed
// before every read and write, header and body limits apply, and expected ends (EOF, reset,
// timeout, cancellation) arrive as values through as_tuple.
#include <boost/beast/http.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <chrono>

#include "net/guarded_parser.hpp"
#include "net/http_session_steps.hpp"
#include "net/plain_request.hpp"
#include "net/request_header_read.hpp"
#include "net/server_state.hpp"
#include "net/streamed_body.hpp"
#include "net/tls_stream.hpp"
#include "server/http/problem.hpp"
#include "server/http/response_bytes.hpp"
#include "storage/change_set.hpp"

namespace callsign::server::net_detail {

namespace {
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

// [streamed route] (body_reading::streamed, server/http/router.hpp): the route admits the request
// from the header alone, so a refused caller never has its body read or stored and
// `Expect: 100-continue` is answered only once admitted; then the body streams into the route's
// body_stream (net/streamed_body.hpp) and the route finishes it on the worker pool. A body that
// ends short is the route's to answer (cut) before the connection closes. Returns whether the
// connection may carry another request.
template <class Stream, class Deadline>
net::awaitable<bool> serve_streamed(server_state& st, Stream& stream, Deadline& deadline, beast::flat_buffer& buffer,
                                    http::request_parser<http::empty_body>& header, http_request& plain,
                                    const route_match& match, std::chrono::steady_clock::time_point started,
                                    std::string& wire) {
  const auto& cfg = st.app.config;
  const unsigned version = header.get().version();
  const bool keep_alive = header.get().keep_alive();
  const bool expects_continue = beast::iequals(header.get()[http::field::expect], "100-continue");

  std::optional<route_step> refusal;  // answered with the body (or its rest) unread
  std::unique_ptr<body_stream> body;
  if (match.matched == nullptr) {
    refusal = match.failure;
  } else {
    body_framing framing;
    if (const auto length = header.content_length()) framing.declared_length = *length;
    framing.chunked = header.chunked();
    auto admitted = router::admit(*match.matched, plain, framing);
    if (auto* admitted_body = std::get_if<std::unique_ptr<body_stream>>(&admitted)) {
      body = std::move(*admitted_body);
    } else {
      refusal = step_of(std::move(std::get<route_outcome>(admitted)));
    }
  }

  if (body) {
    if (expects_continue && !header.is_done()) {
      http::response<http::empty_body> cont{http::status::continue_, version};
      deadline.arm(cfg.request_timeout);
      auto [ec, bytes] = co_await http::async_write(stream, cont, use_tuple);
      deadline.disarm();
      if (ec) {
        co_return false;  // nothing was read: the body_stream drops its (empty) store when destroyed
      }
    }
    guarded_request_parser<http::buffer_body> reading{moved_parser(header)};
    reading.body_limit(boost::none);  // the body_stream enforces its own limit on what it stores
    auto streaming = stream_body(stream, deadline, buffer, reading, *body, st.workers, cfg.request_timeout,
                                 match.matched->streamed.min_bytes_per_second);
    auto streamed = co_await std::move(streaming);
    std::optional<body_cut> cut;
    switch (streamed.end) {
      case body_end::complete:
        break;
      case body_end::too_large:
        cut = body_cut{body_cut_reason::too_large, {}, {}, {}};
        break;
      case body_end::store_failed:
        cut = body_cut{body_cut_reason::store_failed, {}, streamed.store_error, {}};
        break;
      case body_end::too_slow:
        cut = body_cut{body_cut_reason::too_slow, {}, {}, {}};
        break;
      case body_end::read_failed: {
        auto reply = response_for_read_error(streamed.read_error);
        if (!reply) {
          // Disconnect or timeout: nobody to answer, so nothing waits for the route's record.
          body->abandoned(plain, streamed.read_error.message());
          co_return false;
        }
        cut = body_cut{body_cut_reason::aborted, streamed.read_error.message(), {}, std::move(reply)};
        break;
      }
    }
    if (cut) {
      refusal = step_of(router::run_step([&] { return body->cut(plain, std::move(*cut)); }));
    }
  }

  if (refusal) {
    // Refused with the body (or its rest) unread: the connection cannot carry another request.
    auto settling = settle(st, std::move(*refusal));
    http_response response = co_await std::move(settling);
    record(st, plain, match.metrics_index, response.status, started);
    auto written = write_response(st, stream, deadline, response, {version, false, false, plain.request_id}, wire);
    co_await std::move(written);
    auto closing = close_transport(st, stream);
    co_await std::move(closing);
    auto drained = drain_unread_body(stream, deadline, buffer);
    co_await std::move(drained);
    co_return false;
  }

  // Finishing (fsync, validation) reads the whole body: on the worker pool.
  auto finishing = on_workers(st, [&body, &plain] { return router::run_step([&] { return body->finish(plain); }); });
  auto finished = co_await std::move(finishing);
  auto settling = settle(st, std::move(finished));
  http_response response = co_await std::move(settling);
  const bool keep = keep_alive && !st.app.draining.load();
  record(st, plain, match.metrics_index, response.status, started);
  auto written = write_response(st, stream, deadline, response, {version, keep, false, plain.request_id}, wire);
  co_await std::move(written);
  co_return keep;
}
// [/streamed route]

// The HTTP/1.1 loop, the same over the plain socket and over tls_stream.
template <class Stream>
net::awaitable<void> serve_requests(server_state& st, std::shared_ptr<connection> conn, Stream& stream) {
  const auto& cfg = st.app.config;
  beast::error_code remote_ec;
  auto endpoint = conn->socket.remote_endpoint(remote_ec);
  std::string remote = remote_ec ? std::string() : endpoint.address().to_string();
  auto buffer = bounded_read_buffer(cfg.header_limit);  // net/guarded_parser.hpp
  std::string wire;  // each response's bytes, reused
  auto deadline = phase_deadline_of(stream, *conn);  // net/phase_deadline.hpp

  for (;;) {
    // The header first, with an empty body: the route decides how its body is read.
    guarded_request_parser<http::empty_body> header;
    header.header_limit(static_cast<std::uint32_t>(cfg.header_limit));
    header.body_limit(boost::none);  // applied below, once the route is known

    conn->idle.store(true);
    if (st.app.draining.load()) {
      break;
    }
    deadline.arm(cfg.request_timeout);  // the whole header, not each read: a trickle cannot renew it
    auto reading = read_request_header(stream, buffer, header);
    auto [ec, refusal] = co_await std::move(reading);
    deadline.disarm();
    if (!ec && refusal) {
      // Framing another parser could read differently (smuggling): refused before any body
      // byte is read, and the connection closes because its next bytes cannot be trusted.
      conn->idle.store(false);
      http_request plain = to_plain_header(header.get(), remote, st);
      auto refused = problem_response(400, "Bad Request", *refusal);
      record(st, plain, 0, refused.status, std::chrono::steady_clock::now());
      auto written = write_response(st, stream, deadline, refused, {11, false, false, plain.request_id}, wire);
      co_await std::move(written);
      break;
    }
    std::size_t bytes = 0;
    // The router decides from the header how the body is read (body_reading, server/http/router.hpp).
    http_request plain;
    route_match match;
    if (!ec) {
      plain = to_plain_header(header.get(), remote, st);
      match = st.routes.resolve(plain);
    }
    if (!ec && match.body == body_reading::streamed) {
      conn->idle.store(false);
      auto upload_started = std::chrono::steady_clock::now();
      auto serving = serve_streamed(st, stream, deadline, buffer, header, plain, match, upload_started, wire);
      const bool again = co_await std::move(serving);
      if (!again) {
        break;
      }
      continue;
    }
    // Every other route: the body in memory, up to limits.body_bytes (413 beyond, from the
    // declared Content-Length before any body byte is read).
    guarded_request_parser<http::string_body> parser{moved_parser(header)};
    parser.body_limit(cfg.body_limit);
    if (!ec && parser.content_length() && *parser.content_length() > cfg.body_limit) {
      ec = http::error::body_limit;
    }
    conn->idle.store(false);
    auto started = std::chrono::steady_clock::now();
    if (!ec && !parser.is_done()) {
      auto expect = parser.get()[http::field::expect];
      if (beast::iequals(expect, "100-continue")) {
        http::response<http::empty_body> cont{http::status::continue_, parser.get().version()};
        deadline.arm(cfg.request_timeout);
        std::tie(ec, bytes) = co_await http::async_write(stream, cont, use_tuple);
        deadline.disarm();
      }
      if (!ec) {
        // A body that came with its header (the usual small POST) is parsed here, as
        // async_read would first do, without a round through the scheduler.
        parser.eager(true);
        while (!ec && !parser.is_done() && buffer.size() > 0) {
          const auto used = parser.put(buffer.data(), ec);
          buffer.consume(used);
          if (ec == http::error::need_more) {
            ec = {};
            break;
          }
        }
      }
      if (!ec && !parser.is_done()) {
        deadline.arm(cfg.request_timeout);
        std::tie(ec, bytes) = co_await http::async_read(stream, buffer, parser, use_tuple);
        deadline.disarm();
      }
    }
    if (ec) {
      if (auto failure = response_for_read_error(ec)) {
        http_request failed;
        failed.request_id = next_request_id(st);
        failed.remote_address = remote;
        failed.method = http_method::other;
        record(st, failed, 0, failure->status, started);
        co_await write_response(st, stream, deadline, *failure, {11, false, false, failed.request_id}, wire);
      }
      break;
    }

    if (match.body == body_reading::upgrade && match.matched != nullptr && beast::websocket::is_upgrade(parser.get()) &&
        st.app.streams != nullptr &&
        (match.matched->upgrades_to != upgrade_kind::admin_stream || st.app.admin_streams != nullptr)) {
      // The route checks the request (the stream's Origin rule) before the handover.
      if (auto refused = router::check_upgrade(*match.matched, plain)) {
        record(st, plain, match.metrics_index, refused->status, started);
        co_await write_response(st, stream, deadline, *refused, {parser.get().version(), false, false, plain.request_id}, wire);
        break;
      }
      record(st, plain, match.metrics_index, 101, started);
      start_stream_session(st, std::move(conn), parser.release(), match.matched->upgrades_to);  // outlives this coroutine
      co_return;
    }

    auto version = parser.get().version();
    bool keep_alive = parser.get().keep_alive();
    plain.body = std::move(parser.get().body());
    http_response response = co_await run_route(st, match, plain);
    keep_alive = keep_alive && !st.app.draining.load();
    // Recorded before the write, so a client that reads /metrics right after its response
    // already sees its request counted.
    record(st, plain, match.metrics_index, response.status, started);
    co_await write_response(st, stream, deadline, response,
                            {version, keep_alive, plain.method == http_method::head, plain.request_id}, wire);
    if (!keep_alive) {
      break;
    }
  }
  auto closing = close_transport(st, stream);
  co_await std::move(closing);
}

}  // namespace

net::awaitable<void> run_session(server_state& st, std::shared_ptr<connection> conn) {
  if (!conn->tls) {
    conn->wheel = st.app.streams->deadlines();  // swept by net/stream_timers.cpp
    conn->wheel->add(conn->deadline);
    auto plain = serve_requests(st, conn, conn->socket);
    co_await std::move(plain);
    co_return;
  }
  // OpenSSL reads and writes the socket, and
  // tls_stream carries the timeout.
  tls_stream stream(conn->socket, conn->tls.get());
  stream.expires_after(st.app.config.request_timeout);  // a stalled handshake cannot hold a slot
  conn->idle.store(true);                                // shutdown may cancel it at once
  auto [ec, ignored_bytes] = co_await stream.async_handshake(use_tuple);
  conn->idle.store(false);
  if (ec) {
    st.app.log.write(log_level::debug, "TLS handshake failed", {{"error", ec.message()}});
    beast::error_code ignored;
    conn->socket.shutdown(tcp::socket::shutdown_both, ignored);
    co_return;
  }
  auto secure = serve_requests(st, conn, stream);
  co_await std::move(secure);
}


namespace {
net::awaitable<void> send_refusal(tcp::socket socket, std::string reason) {
  beast::tcp_stream stream(std::move(socket));
  std::string wire;
  // A 503 like any other: problem+json with Retry-After (server/http/problem.cpp).
  serialize_response(error_response(make_error(error_kind::unavailable, std::move(reason))), {11, false, false, {}},
                     wire);
  stream.expires_after(std::chrono::seconds(2));
  auto bytes = net::buffer(wire);
  co_await net::async_write(stream, bytes, use_tuple);
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}
}  // namespace

void refuse_connection(tcp::socket socket, bool tls, std::string_view reason) {
  if (tls) {
    beast::error_code ignored;
    socket.close(ignored);
    return;
  }
  auto executor = socket.get_executor();
  net::co_spawn(executor, send_refusal(std::move(socket), std::string(reason)), net::detached);
}

}  // namespace callsign::server::net_detail
