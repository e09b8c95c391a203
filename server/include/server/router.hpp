// Maps (method, path pattern) to plain handler functions. Patterns use {name} for one segment.
// Matching compares raw segments; each captured {name} is then percent-decoded once, here, so
// handlers read decoded values (docs/architecture.md, "Path parameters").
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "crypto/result.hpp"
#include "server/http_types.hpp"
#include "storage/change_set.hpp"

namespace callsign::server {

// A response that may only be sent once `changes` are durable: the session layer hands the
// change set to the group-commit writer, waits without blocking a thread, then calls finish.
struct deferred_response {
  storage::change_set changes;
  std::function<http_response(const result<storage::commit_receipt>&)> finish;
};

// What a handler returns: a response, an error (mapped to problem+json), or a deferred response.
class handler_result {
 public:
  handler_result(http_response response) : value_(std::move(response)) {}       // NOLINT
  handler_result(error err) : value_(std::move(err)) {}                          // NOLINT
  handler_result(deferred_response deferred) : value_(std::move(deferred)) {}    // NOLINT
  handler_result(result<http_response> outcome)                                  // NOLINT
      : value_(outcome ? std::variant<http_response, error, deferred_response>(std::move(outcome).value())
                       : std::variant<http_response, error, deferred_response>(outcome.error())) {}

  std::variant<http_response, error, deferred_response>& value() noexcept { return value_; }

 private:
  std::variant<http_response, error, deferred_response> value_;
};

using route_handler = std::function<handler_result(http_request&)>;

// Where the session layer runs a handler: on the connection's I/O thread (cheap, non-blocking
// handlers), on the worker pool (anything that may block on disk), or io_then_worker: on the I/O
// thread inside a storage::nonblocking_reads scope, and once more on the worker pool when the
// handler answers error_kind::would_block (a read would have waited for the disk). Such a handler
// must answer would_block only before it has changed anything, and keep the request intact then.
enum class route_execution { io, worker, io_then_worker };

// Whether a path parameter may decode to '/' (sent as %2F). Refused by default: an id holding
// '/' would read as two segments wherever it goes back into a path or key. A CIDR block key
// ("2001:db8::%2F64") needs it.
enum class path_slashes { refused, allowed };

struct route {
  http_method method;
  std::string pattern;
  route_handler handler;
  route_execution execution = route_execution::io;
  std::vector<std::string> segments;  // split pattern
  path_slashes slashes = path_slashes::refused;
};

struct route_match {
  const route* matched = nullptr;  // null when `failure` holds the response
  std::size_t metrics_index = 0;   // index into route_labels()
  http_response failure;
};

// Thread-safety: build fully before serving; afterwards only const members are called.
class router {
 public:
  void add(http_method method, std::string pattern, route_handler handler,
           route_execution execution = route_execution::io, path_slashes slashes = path_slashes::refused);

  // Fills request.path_params, percent-decoded, on success. HEAD matches GET routes. A captured
  // segment with a bad escape, or decoding to NUL or (unless allowed) '/', is a 400 problem.
  route_match resolve(http_request& request) const;

  // Runs the handler and maps its error (or any escaping exception) to a problem response.
  static std::variant<http_response, deferred_response> invoke(const route& r, http_request& request);
  // The same inside a storage::nonblocking_reads scope; nullopt when the handler answered
  // error_kind::would_block, to be run again with invoke where waiting is allowed.
  static std::optional<std::variant<http_response, deferred_response>> invoke_without_waiting(const route& r,
                                                                                              http_request& request);
  // Turns a commit outcome into the deferred response's final response, never throwing.
  static http_response finish(deferred_response& deferred, const result<storage::commit_receipt>& committed);

  // Metrics labels: one per route ("GET /v1/users/{id}") plus "unmatched" at index 0.
  const std::vector<std::string>& route_labels() const noexcept { return labels_; }

 private:
  std::vector<route> routes_;
  std::vector<std::string> labels_{"unmatched"};
};

}  // namespace callsign::server
