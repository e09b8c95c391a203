// One HTTP/1.1 connection as a C++20 coroutine on its connection's I/O thread: the timeout is re-armed
// before every read and write, header and body limits apply, and expected ends (EOF, reset,
// timeout, cancellation) arrive as values through as_tuple.
#include <boost/beast/http.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include <chrono>

#include "net/http_session_steps.hpp"
#include "net/list_upload_body.hpp"
#include "net/plain_request.hpp"
#include "net/request_header_read.hpp"
#include "net/server_state.hpp"
#include "net/tls_stream.hpp"
#include "server/background_audit.hpp"
#include "server/lists/list_upload.hpp"
#include "server/problem.hpp"
#include "server/response_bytes.hpp"
#include "server/stream_auth.hpp"
#include "storage/change_set.hpp"

namespace callsign::server::net_detail {

namespace {
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

// [streamed list upload] PUT /v1/admin/lists/{name} (server/lists/list_upload.hpp): decided
// from the header alone, so a refused caller (401/403/404/413) never has its body read or
// stored and `Expect: 100-continue` is answered only once admitted; then the body streams into
// the upload file (net/list_upload_body.hpp) and is installed on the worker pool. Returns
// whether the connection may carry another request.
template <class Stream>
net::awaitable<bool> serve_list_upload(server_state& st, Stream& stream, beast::flat_buffer& buffer,
                                       http::request_parser<http::empty_body>& header, const std::string& remote,
                                       std::chrono::steady_clock::time_point started, std::string& wire) {
  const auto& cfg = st.app.config;
  const unsigned version = header.get().version();
  const bool keep_alive = header.get().keep_alive();
  const bool expects_continue = beast::iequals(header.get()[http::field::expect], "100-continue");
  http_request plain = to_plain_header(header.get(), remote, st);
  auto match = st.routes.resolve(plain);

  std::optional<http_response> refusal;
  std::optional<upload_refusal> refused_as;  // an admitted upload's end: audited before `refusal`
  std::uint64_t stored = 0;  // bytes in the upload file when the body ended
  std::variant<list_upload_ticket, http_response> admitted = http_response{};
  std::optional<upload_file> file;
  if (match.matched == nullptr) {
    refusal = std::move(match.failure);
  } else {
    std::optional<std::uint64_t> declared;
    if (const auto length = header.content_length()) {
      declared = *length;
    }
    admitted = admit_list_upload(st.app, plain, declared, header.chunked());
    if (auto* refused = std::get_if<http_response>(&admitted)) {
      refusal = std::move(*refused);
    } else if (const auto& ticket = std::get<list_upload_ticket>(admitted); ticket.declared_too_large) {
      refused_as = upload_refusal::too_large;
      refusal = upload_too_large_response(ticket.limit);
    } else if (auto created = upload_file::create(ticket.path, ticket.limit); !created) {
      refused_as = upload_refusal::store_failed;
      refusal = error_response(created.error());
    } else {
      file.emplace(std::move(created).value());
    }
  }

  if (!refusal) {
    if (expects_continue && !header.is_done()) {
      http::response<http::empty_body> cont{http::status::continue_, version};
      stream.expires_after(cfg.request_timeout);
      auto [ec, bytes] = co_await http::async_write(stream, cont, use_tuple);
      if (ec) {
        co_return false;  // `file` removes itself
      }
    }
    http::request_parser<http::buffer_body> body{std::move(header)};
    body.body_limit(boost::none);  // the file enforces lists.max_upload_bytes on what it stores
    auto streaming = stream_upload_body(stream, buffer, body, *file, st.workers, cfg.request_timeout,
                                        cfg.lists.upload_min_bytes_per_second);
    auto streamed = co_await std::move(streaming);
    stored = file->bytes();
    const auto abandon = [&](const std::string& reason) {
      st.app.log.warn("list upload abandoned", {{"request_id", plain.request_id},
                                                {"list", list_name(std::get<list_upload_ticket>(admitted).id)},
                                                {"bytes_stored", file->bytes()},
                                                {"reason", reason}});
      file->abort();
    };
    switch (streamed.end) {
      case upload_body_end::complete:
        break;
      case upload_body_end::too_large:
        refused_as = upload_refusal::too_large;
        refusal = upload_too_large_response(file->limit());
        break;
      case upload_body_end::store_failed:
        refused_as = upload_refusal::store_failed;
        refusal = error_response(*streamed.store_error);
        break;
      case upload_body_end::too_slow:
        abandon("slower than lists.upload_min_bytes_per_second");
        refused_as = upload_refusal::too_slow;
        refusal = upload_too_slow_response(cfg.lists.upload_min_bytes_per_second);
        break;
      case upload_body_end::read_failed: {
        abandon(streamed.read_error.message());
        refused_as = upload_refusal::aborted;
        refusal = response_for_read_error(streamed.read_error);
        if (!refusal) {
          // Disconnect or timeout: nobody to answer, so nothing waits for the entry.
          submit_background_audit(st.app.writer, st.app.log,
                                  refused_upload_audit(st.app, plain, std::get<list_upload_ticket>(admitted),
                                                       upload_refusal::aborted, stored));
          co_return false;
        }
        break;
      }
    }
  }

  if (refusal && refused_as) {
    // An admin's upload to a known list that ends here is an admin action: its entry is durable
    // before the refusal is sent, through the route path every audited reply takes.
    const route refusing_route{http_method::put, match.matched->pattern,
                               [&st, &ticket = std::get<list_upload_ticket>(admitted), reason = *refused_as, stored,
                                reply = *refusal](http_request& request) {
                                 return refused_list_upload(st.app, request, ticket, reason, stored, reply);
                               },
                               route_execution::io, {}};
    const route_match refusing{&refusing_route, match.metrics_index, {}};
    auto audited = run_route(st, refusing, plain);
    refusal = co_await std::move(audited);
  }

  if (refusal) {
    // Refused with the body (or its rest) unread: the connection cannot carry another request.
    record(st, plain, match.metrics_index, refusal->status, started);
    auto written = write_response(st, stream, *refusal, {version, false, false, plain.request_id}, wire);
    co_await std::move(written);
    auto closing = close_transport(st, stream);
    co_await std::move(closing);
    auto drained = drain_unread_body(stream, buffer);
    co_await std::move(drained);
    co_return false;
  }

  // Finishing (fsync) and validating read the whole upload: on the worker pool, as a route.
  const auto& ticket = std::get<list_upload_ticket>(admitted);
  const route install{http_method::put, match.matched->pattern,
                      [&st, &ticket, &file](http_request& request) {
                        return install_list_upload(st.app, request, ticket, *file);
                      },
                      route_execution::worker, {}};
  const route_match installing{&install, match.metrics_index, {}};
  auto running = run_route(st, installing, plain);
  http_response response = co_await std::move(running);
  const bool keep = keep_alive && !st.app.draining.load();
  record(st, plain, match.metrics_index, response.status, started);
  auto written = write_response(st, stream, response, {version, keep, false, plain.request_id}, wire);
  co_await std::move(written);
  co_return keep;
}
// [/streamed list upload]

// The HTTP/1.1 loop, the same over beast::tcp_stream and over tls_stream.
template <class Stream>
net::awaitable<void> serve_requests(server_state& st, std::shared_ptr<connection> conn, Stream& stream) {
  const auto& cfg = st.app.config;
  beast::error_code remote_ec;
  auto endpoint = conn->stream.socket().remote_endpoint(remote_ec);
  std::string remote = remote_ec ? std::string() : endpoint.address().to_string();
  beast::flat_buffer buffer;
  std::string wire;  // each response's bytes, reused

  for (;;) {
    // The header first, with an empty body: the route decides how its body is read.
    http::request_parser<http::empty_body> header;
    header.header_limit(static_cast<std::uint32_t>(cfg.header_limit));
    header.body_limit(boost::none);  // applied below, once the route is known

    conn->idle.store(true);
    if (st.app.draining.load()) {
      break;
    }
    stream.expires_after(cfg.request_timeout);
    auto reading = read_request_header(stream, buffer, header);
    auto [ec, refusal] = co_await std::move(reading);
    if (!ec && refusal) {
      // Framing another parser could read differently (smuggling): refused before any body
      // byte is read, and the connection closes because its next bytes cannot be trusted.
      conn->idle.store(false);
      http_request plain = to_plain_header(header.get(), remote, st);
      auto refused = problem_response(400, "Bad Request", *refusal);
      record(st, plain, 0, refused.status, std::chrono::steady_clock::now());
      auto written = write_response(st, stream, refused, {11, false, false, plain.request_id}, wire);
      co_await std::move(written);
      break;
    }
    std::size_t bytes = 0;
    if (!ec && is_list_upload(std::string_view(header.get().method_string().data(), header.get().method_string().size()),
                              std::string_view(header.get().target().data(), header.get().target().size()))) {
      conn->idle.store(false);
      auto upload_started = std::chrono::steady_clock::now();
      auto serving = serve_list_upload(st, stream, buffer, header, remote, upload_started, wire);
      const bool again = co_await std::move(serving);
      if (!again) {
        break;
      }
      continue;
    }
    // Every other route: the body in memory, up to limits.body_bytes (413 beyond, from the
    // declared Content-Length before any body byte is read).
    http::request_parser<http::string_body> parser{std::move(header)};
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
        co_await write_response(st, stream, *failure, {11, false, false, plain.request_id}, wire);
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
          co_await write_response(st, stream, refused, {req.version(), false, false, plain.request_id}, wire);
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
    co_await write_response(st, stream, response,
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
    auto plain = serve_requests(st, conn, conn->stream);
    co_await std::move(plain);
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
  auto secure = serve_requests(st, conn, stream);
  co_await std::move(secure);
}


net::awaitable<void> refuse_connection(tcp::socket socket) {
  beast::tcp_stream stream(std::move(socket));
  std::string wire;
  serialize_response(problem_response(503, "Service Unavailable", "too many open connections"), {11, false, false, {}},
                     wire);
  stream.expires_after(std::chrono::seconds(2));
  auto bytes = net::buffer(wire);
  co_await net::async_write(stream, bytes, use_tuple);
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

}  // namespace callsign::server::net_detail
