// The request path's steps shared by http_session.cpp's HTTP/1.1 loop and its streamed routes:
// running a route (on the I/O thread or the worker pool, then awaiting its async_response and
// the group commit of its deferred changes), writing a response, ending a transport, and the
// access record. Included
// by http_session.cpp only, so Beast stays in that one translation unit.
#pragma once

#include <boost/beast/http.hpp>
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <variant>

#include "net/phase_deadline.hpp"
#include "net/server_state.hpp"
#include "net/tls_stream.hpp"
#include "server/http/problem.hpp"
#include "server/http/response_bytes.hpp"
#include "storage/change_set.hpp"

namespace callsign::server::net_detail {

namespace http = beast::http;
// Expected I/O ends (EOF, reset, timeout, cancellation) come back as values, never as throws.
inline constexpr auto steps_use_tuple = net::as_tuple(net::use_awaitable);

// Maps a failed read of the request to the response it deserves, or none (just close).
inline std::optional<http_response> response_for_read_error(const beast::error_code& ec) {
  if (ec == http::error::header_limit) {
    return problem_response(431, "Request Header Fields Too Large", "request headers exceed the configured limit");
  }
  if (ec == http::error::buffer_overflow) {  // trailer fields past the read buffer (guarded_parser.hpp)
    return problem_response(431, "Request Header Fields Too Large", "request trailer fields exceed the configured limit");
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

// Hands a change set to the group-commit writer and resumes on this connection's I/O thread once
// it is synced. No thread waits: many requests share one fsync. The writer's completion posts the
// coroutine's own handler back to its executor: one allocation for the shared handler, one post.
template <class Token>
auto async_commit(server_state& st, storage::change_set changes, Token&& token) {
  return net::async_initiate<Token, void(result<storage::commit_receipt>)>(
      [&st](auto handler, storage::change_set change) {
        // `work` counts as outstanding work of the I/O thread's io_context until the handler has
        // run; it travels inside the posted function and is released on that thread. The writer
        // keeps only an untracked copy: it frees this callback after the post, and by then the
        // reply may be out and serve_http may have destroyed the io_context (a tracked copy's
        // destructor would touch it: heap-use-after-free at SIGTERM).
        auto executor = net::get_associated_executor(handler);
        auto work = net::prefer(executor, net::execution::outstanding_work.tracked);
        auto untracked = net::prefer(executor, net::execution::outstanding_work.untracked);
        using handler_type = decltype(handler);
        // std::function needs a copyable callable; the coroutine's handler is move-only.
        auto shared = std::make_shared<handler_type>(std::move(handler));
        st.app.writer->submit(std::move(change), [shared, untracked, work = std::move(work)](
                                                     result<storage::commit_receipt> done) mutable {
          net::post(untracked, [shared, work = std::move(work), done = std::move(done)]() mutable {
            std::move(*shared)(std::move(done));
          });
        });
      },
      token, std::move(changes));
}

// What run_route continues with: an async_response is started (on the thread that ran its
// handler) as soon as it is returned, so only its slot travels.
using route_step = std::variant<http_response, deferred_response, std::shared_ptr<pending_reply>>;

inline route_step step_of(route_outcome outcome) {
  if (auto* pending = std::get_if<async_response>(&outcome)) return pending_reply::start(std::move(*pending));
  if (auto* deferred = std::get_if<deferred_response>(&outcome)) return std::move(*deferred);
  return std::move(std::get<http_response>(outcome));
}

// Waits for an async_response's resume without blocking this thread. Resumed inline: no wait and
// no post. Otherwise resume posts the timer's cancellation to this connection's executor, so the
// continuation runs here. The timer (shared with that post) is the only pending operation: if
// resume never comes, shutdown destroys this context's pending operations, and with them this
// frame, whose guard abandons the slot so a later resume touches nothing freed
// (docs/architecture.md, "Asynchronous replies").
inline net::awaitable<route_outcome> await_pending(std::shared_ptr<pending_reply> pending) {
  const auto executor = co_await net::this_coro::executor;
  auto wake_up = std::make_shared<net::steady_timer>(executor, net::steady_timer::time_point::max());
  struct abandon_on_exit {
    pending_reply& slot;
    ~abandon_on_exit() { slot.abandon(); }
  } guard{*pending};
  for (;;) {
    auto ready = pending->take_or_wake([executor, wake_up] {
      net::post(executor, [wake_up] { wake_up->expires_at(net::steady_timer::time_point::min()); });
    });
    if (ready) co_return std::move(*ready);
    // Ends when the posted expiry cancels it (or, if that ran first, at once).
    co_await wake_up->async_wait(steps_use_tuple);
  }
}

// Runs `step` (a route's own step: a streamed body's finish) on the worker pool.
inline net::awaitable<route_step> on_workers(server_state& st, std::function<route_outcome()> step) {
  // Named, not a temporary inside the co_await: GCC 12 may destroy such temporaries twice.
  auto on_worker = [step = std::move(step)]() -> net::awaitable<route_step> { co_return step_of(step()); };
  auto spawned = net::co_spawn(st.workers, std::move(on_worker), net::use_awaitable);
  co_return co_await std::move(spawned);
}

// Carries a handler's outcome to its response: an async_response is awaited (and may continue
// with another: a loop, never a recursion), a deferred response's changes are committed.
// `round_trips`: the request's tally, for an async_response that a resumed one starts.
inline net::awaitable<http_response> settle(server_state& st, route_step step,
                                            storage::round_trip_tally round_trips = {}) {
  while (auto* pending = std::get_if<std::shared_ptr<pending_reply>>(&step)) {
    // Most replies resumed inline (backends answering from memory): taken at once, with no
    // timer, wake-up function or coroutine frame. An empty wake is replaced by await_pending's.
    auto next = (*pending)->take_or_wake({});
    if (!next) {
      auto waiting = await_pending(std::move(*pending));
      next = co_await std::move(waiting);
    }
    {
      storage::round_trip_scope counting(round_trips);  // ends before the next co_await
      step = step_of(std::move(*next));
    }
  }
  if (auto* deferred = std::get_if<deferred_response>(&step)) {
    if (deferred->changes.empty()) {
      co_return router::finish(*deferred, storage::commit_receipt{});
    }
    if (st.app.writer == nullptr) {
      co_return router::finish(*deferred, make_error(error_kind::unavailable, "storage writer is not running"));
    }
    auto commit = async_commit(st, std::move(deferred->changes), net::use_awaitable);
    auto committed = co_await std::move(commit);
    co_return router::finish(*deferred, committed);
  }
  co_return std::move(std::get<http_response>(step));
}

inline net::awaitable<http_response> run_route(server_state& st, const route_match& match, http_request& plain) {
  if (match.matched == nullptr) {
    co_return match.failure;
  }
  route_step step;
  const route* r = match.matched;
  if (st.app.cluster != nullptr) {
    plain.round_trips = std::make_shared<std::atomic<std::uint64_t>>(0);
  }
  // The handler's own calls count for this request; a Redis completion restores the scope for
  // the calls its continuation makes. A scope never spans a co_await: it belongs to the thread.
  if (r->execution == route_execution::worker) {
    auto spawned = on_workers(st, [r, &plain] {
      storage::round_trip_scope counting(plain.round_trips);
      return router::invoke(*r, plain);
    });
    step = co_await std::move(spawned);
  } else {
    storage::round_trip_scope counting(plain.round_trips);
    step = step_of(router::invoke(*r, plain));
  }
  auto settling = settle(st, std::move(step), plain.round_trips);
  co_return co_await std::move(settling);
}

// `wire` is the connection's reusable output buffer (server/http/response_bytes.hpp builds the bytes).
template <class Stream, class Deadline>
net::awaitable<void> write_response(server_state& st, Stream& stream, Deadline& deadline, const http_response& res,
                                    response_framing framing, std::string& wire) {
  serialize_response(res, framing, wire);
  deadline.arm(st.app.config.request_timeout);
  auto bytes = net::buffer(wire);
  co_await net::async_write(stream, bytes, steps_use_tuple);
  deadline.disarm();
}

// How a connection ends once its last response is out.
inline net::awaitable<void> close_transport(server_state&, tcp::socket& socket) {
  beast::error_code ignored;
  socket.shutdown(tcp::socket::shutdown_send, ignored);
  co_return;
}

inline net::awaitable<void> close_transport(server_state& st, tls_stream& stream) {
  if (!stream.broken()) {
    // close_notify, so the client can tell the end from a truncation; its reply is not awaited.
    stream.expires_after(std::min<std::chrono::milliseconds>(st.app.config.request_timeout, std::chrono::seconds(2)));
    co_await stream.async_shutdown(steps_use_tuple);
  }
  stream.expires_never();
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

inline void record(server_state& st, const http_request& req, std::size_t route_index, unsigned status,
            std::chrono::steady_clock::time_point started) {
  auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (st.app.stats) {
    st.app.stats->record_request(route_index, req.method, status, seconds);
    if (req.round_trips) st.app.stats->record_round_trips(route_index, req.round_trips->load());
  }
  st.app.log.info("request", {{"request_id", req.request_id},
                              {"method", http_method_name(req.method)},
                              {"path", req.path},
                              {"route", st.routes.route_labels()[route_index]},
                              {"status", status},
                              {"duration_ms", seconds * 1000.0},
                              {"remote", req.remote_address}});
}

}  // namespace callsign::server::net_detail
