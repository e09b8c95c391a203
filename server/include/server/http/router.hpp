// Maps (method, path pattern) to plain handler functions. Patterns use {name} for one segment.
// Matching compares raw segments; each captured {name} is then percent-decoded once, here, so
// handlers read decoded values (docs/architecture.md, "Path parameters").
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "crypto/result.hpp"
#include "server/http/http_types.hpp"
#include "storage/change_set.hpp"

namespace callsign::server {

// A response that may only be sent once `changes` are durable: the session layer hands the
// change set to the group-commit writer, waits without blocking a thread, then calls finish.
struct deferred_response {
  storage::change_set changes;
  std::function<http_response(const result<storage::commit_receipt>&)> finish;
};

class handler_result;

// A reply that waits for asynchronous work (a state backend call, storage/completion.hpp). The
// session calls start(resume) once, on the thread that ran the handler; start must make sure
// resume is called exactly once, from any thread (inline included), with what to continue with:
// a response, an error, a deferred_response, or another async_response.
struct async_response {
  std::function<void(std::function<void(handler_result)>)> start;
};

// What a handler returns: a response, an error (mapped to problem+json), a deferred response, or
// an asynchronous one.
class handler_result {
 public:
  using value_type = std::variant<http_response, error, deferred_response, async_response>;

  handler_result(http_response response) : value_(std::move(response)) {}       // NOLINT
  handler_result(error err) : value_(std::move(err)) {}                          // NOLINT
  handler_result(deferred_response deferred) : value_(std::move(deferred)) {}    // NOLINT
  handler_result(async_response pending) : value_(std::move(pending)) {}         // NOLINT
  handler_result(result<http_response> outcome)                                  // NOLINT
      : value_(outcome ? value_type(std::move(outcome).value()) : value_type(outcome.error())) {}

  value_type& value() noexcept { return value_; }

 private:
  value_type value_;
};

// What the router hands the session: errors are already problem responses.
using route_outcome = std::variant<http_response, deferred_response, async_response>;

// The meeting point of an async_response's resume (any thread, any time, inline included) and
// the session that waits for it. Asio-free: the session's net layer supplies `wake`, which posts
// the continuation to the connection's executor. Thread-safe.
class pending_reply {
 public:
  // Calls pending.start with a resume bound to the returned slot. An exception thrown by start
  // before it resumed fills the slot with a 500 problem; a second resume is ignored.
  static std::shared_ptr<pending_reply> start(async_response pending);

  // The result once resume has run; otherwise nullopt, and `wake` is called once (under this
  // slot's lock, on the resuming thread) when it does.
  std::optional<route_outcome> take_or_wake(std::function<void()> wake);

  // The waiter is gone (its coroutine was destroyed at shutdown): a later resume only drops its
  // result, and never calls `wake` again.
  void abandon();

 private:
  void resume(handler_result next);

  std::mutex mutex_;
  std::optional<route_outcome> value_;
  std::function<void()> wake_;
  bool resumed_ = false;
  bool abandoned_ = false;
};

using route_handler = std::function<handler_result(http_request&)>;

// Where the session layer runs a handler: on the connection's I/O thread (cheap, non-blocking
// handlers, and those that wait for state through an async_response), or on the worker pool
// (anything that may block on disk: file uploads, pages, audit reads).
enum class route_execution { io, worker };

// Whether a path parameter may decode to '/' (sent as %2F). Refused by default: an id holding
// '/' would read as two segments wherever it goes back into a path or key. A CIDR block key
// ("2001:db8::%2F64") needs it.
enum class path_slashes { refused, allowed };

// How the session reads a route's request body (docs/architecture.md, "A request").
enum class body_reading {
  buffered,  // into memory, up to limits.body_bytes, before the handler runs
  streamed,  // admitted from the header alone, then handed over in chunks (stream_steps)
  upgrade,   // an upgrade request is checked (upgrade_check), then the connection is handed over
};

// Why a streamed body ended before it was whole.
enum class body_cut_reason {
  too_large,     // past the route's limit (declared, or while streaming): the sink already dropped it
  too_slow,      // behind the route's min_bytes_per_second on average
  aborted,       // the client disconnected, stalled past the request timeout or sent bad chunking
  store_failed,  // the sink could not store a chunk (store_error says why)
};

struct body_cut {
  body_cut_reason why = body_cut_reason::aborted;
  std::string detail;                  // aborted: the read error, for the log
  std::optional<error> store_error;    // store_failed
  std::optional<http_response> reply;  // aborted: the session's answer (400 for bad chunking)
};

// An admitted streamed body (a list upload's file). One request's: the session calls write on
// the worker pool and the rest on the connection's thread, never two at once.
class body_stream {
 public:
  virtual ~body_stream() = default;
  // Stores the next chunk (at most 64 KiB). An error ends the body; over_limit() then tells a
  // limit (413) from a store failure.
  virtual result<void> write(std::span<const std::uint8_t> chunk) = 0;
  virtual bool over_limit() const noexcept = 0;
  // The body ended short: drop what was stored and answer (an audited refusal, for instance).
  virtual handler_result cut(http_request& request, body_cut why) = 0;
  // The body ended short and nobody is left to answer (disconnect, timeout): drop it and record
  // the end without a reply; the session closes the connection.
  virtual void abandoned(http_request& request, std::string_view detail) = 0;
  // The whole body is stored: finish it (on the worker pool) and answer.
  virtual handler_result finish(http_request& request) = 0;
};

struct body_framing {
  std::optional<std::uint64_t> declared_length;  // Content-Length
  bool chunked = false;                          // Transfer-Encoding: chunked
};

// A streamed route's parts. `admit` decides from the header alone (path params resolved): an
// admitted body, or the answer to send without reading it (a plain refusal, or an audited one).
struct stream_steps {
  std::function<std::variant<std::unique_ptr<body_stream>, handler_result>(http_request&, body_framing)> admit;
  std::uint64_t min_bytes_per_second = 0;  // the average the body must keep after the request timeout; 0 = none
};

// Which WebSocket session an upgrading route hands the connection to (docs/stream.md,
// docs/admin-console.md): the session knows kinds, never paths.
enum class upgrade_kind : std::uint8_t { customer_stream, admin_stream };

// An upgrading route's check before the handover: the refusal to send instead, or none.
using upgrade_check = std::function<std::optional<http_response>(const http_request&)>;

struct route {
  http_method method = http_method::get;
  std::string pattern;
  route_handler handler;  // buffered requests; for the other kinds, the answer to a plain request
  route_execution execution = route_execution::io;
  std::vector<std::string> segments;  // split pattern
  path_slashes slashes = path_slashes::refused;
  body_reading body = body_reading::buffered;
  stream_steps streamed;        // body_reading::streamed
  upgrade_check before_upgrade;  // body_reading::upgrade
  upgrade_kind upgrades_to = upgrade_kind::customer_stream;  // body_reading::upgrade
  // The query parameters this route can take; the router refuses any other, and any repeated
  // one, before the handler runs (400). None by default. Pages take any (links carry tracking
  // parameters the page never reads).
  std::vector<std::string> query;
  bool any_query = false;

  route& accepting_query(std::initializer_list<std::string_view> names) {
    query.assign(names.begin(), names.end());
    return *this;
  }
  route& accepting_any_query() {
    any_query = true;
    return *this;
  }
};

struct route_match {
  const route* matched = nullptr;  // null when `failure` holds the response
  std::size_t metrics_index = 0;   // index into route_labels()
  http_response failure;
  // How the body is read, also when a matched route's path parameter was refused (400): a
  // streamed route's refusal is sent without reading its body.
  body_reading body = body_reading::buffered;
};

// Thread-safety: build fully before serving; afterwards only const members are called.
class router {
 public:
  // Each add returns the route, for its query declaration (route::accepting_query); the reference
  // is valid until the next add.
  route& add(http_method method, std::string pattern, route_handler handler,
             route_execution execution = route_execution::io, path_slashes slashes = path_slashes::refused);
  // A route whose body the session streams through `steps`; `handler` serves the same request
  // with its body in memory (router::invoke: tests, fuzzing).
  route& add_streamed(http_method method, std::string pattern, route_handler handler, stream_steps steps,
                      route_execution execution = route_execution::worker);
  // A route that upgrades the connection (the WebSocket stream) once `check` lets it; `handler`
  // answers a request that does not ask for the upgrade.
  route& add_upgrade(http_method method, std::string pattern, route_handler handler, upgrade_check check,
                     upgrade_kind kind = upgrade_kind::customer_stream);

  // Fills request.path_params, percent-decoded, on success. HEAD matches GET routes. A captured
  // segment with a bad escape, or decoding to NUL or (unless allowed) '/', is a 400 problem, and
  // so is a query parameter the route does not declare, or one given twice. The request target
  // must be origin-form ("/path?query"); absolute-form ("http://host/path") is read as its path
  // when its authority is the Host header (RFC 9112 §3.2.2), and anything else, a fragment
  // included, is a 400. A method this server does not know is a 501 (RFC 9110 §9.1).
  route_match resolve(http_request& request) const;

  // Runs the handler and maps its error (or any escaping exception) to a problem response.
  static route_outcome invoke(const route& r, http_request& request);
  // What an async_response resumed with, with its error mapped to a problem response.
  static route_outcome settle(handler_result next);
  // Runs one of a route's own steps (a streamed route's admit, cut or finish, an upgrade check)
  // the way invoke runs a handler: an escaping exception is a 500 problem.
  static route_outcome run_step(const std::function<handler_result()>& step);
  static std::variant<std::unique_ptr<body_stream>, route_outcome> admit(const route& r, http_request& request,
                                                                         body_framing framing);
  // An upgrade request's checks before the handover: the WebSocket handshake's fields
  // (http/websocket_handshake.hpp), then the route's own (the stream's Origin rule).
  static std::optional<http_response> check_upgrade(const route& r, const http_request& request);
  // Turns a commit outcome into the deferred response's final response, never throwing.
  static http_response finish(deferred_response& deferred, const result<storage::commit_receipt>& committed);

  // Metrics labels: one per route ("GET /v1/users/{id}") plus "unmatched" at index 0.
  const std::vector<std::string>& route_labels() const noexcept { return labels_; }

 private:
  route& add_route(http_method method, std::string pattern, route_handler handler, route_execution execution,
                   path_slashes slashes);

  std::vector<route> routes_;
  std::vector<std::string> labels_{"unmatched"};
};

}  // namespace callsign::server
