#include "server/http/problem.hpp"

#include <atomic>
#include <string>

#include "server/http/json_writer.hpp"

namespace callsign::server {
namespace {
std::atomic<std::int64_t> unavailable_retry_after{1};
}  // namespace

void set_unavailable_retry_after(std::int64_t seconds) noexcept {
  unavailable_retry_after.store(seconds < 1 ? 1 : seconds, std::memory_order_relaxed);
}

unsigned http_status_for(error_kind kind) noexcept {
  switch (kind) {
    case error_kind::invalid_input: return 400;
    case error_kind::unsupported_media_type: return 415;
    case error_kind::unauthorized: return 401;
    case error_kind::forbidden: return 403;
    case error_kind::not_found: return 404;
    case error_kind::conflict: return 409;
    case error_kind::rejected: return 422;
    case error_kind::rate_limited: return 429;
    case error_kind::unavailable: return 503;
    case error_kind::storage_failed: return 503;
    case error_kind::would_block: return 503;  // storage moves such reads to its disk pool; 503 if one escapes
    case error_kind::internal: return 500;
  }
  return 500;
}

std::string_view reason_phrase(unsigned status) noexcept {
  switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 421: return "Misdirected Request";
    case 422: return "Unprocessable Content";
    case 426: return "Upgrade Required";
    case 428: return "Precondition Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    case 507: return "Insufficient Storage";
    default: return "Error";
  }
}

http_response problem_response(unsigned status, std::string_view title, std::string_view detail) {
  json_writer json;
  json.begin_object()
      .field("type", "about:blank")
      .field("title", title)
      .field("status", status)
      .field("detail", detail)
      .end_object();
  http_response response;
  response.status = status;
  response.content_type = "application/problem+json";
  response.body = std::move(json).str();
  return response;
}

http_response rule_error_response(const rules::rule_error& why) {
  json_writer json;
  json.begin_object()
      .field("type", "about:blank")
      .field("title", "Unprocessable Content")
      .field("status", 422)
      .field("detail", why.message)
      .field("rule", why.rule)
      .field("line", static_cast<std::int64_t>(why.line))
      .field("column", static_cast<std::int64_t>(why.column))
      .field("expected", why.expected)
      .end_object();
  http_response response;
  response.status = 422;
  response.content_type = "application/problem+json";
  response.body = std::move(json).str();
  return response;
}

std::string_view client_detail(const error& err) noexcept {
  // Internal and storage failures keep their detail in the log, not in the response: RocksDB's
  // text names data-directory files (the group-commit writer's report goes to the log).
  switch (err.kind) {
    case error_kind::internal: return "internal error";
    case error_kind::storage_failed: return storage_failure_detail;
    default: return err.message;
  }
}

http_response error_response(const error& err) {
  auto status = http_status_for(err.kind);
  const std::string_view detail = client_detail(err);
  auto response = problem_response(status, reason_phrase(status), detail);
  if (status == 401) {
    // RFC 6750: tell the client which scheme to use, without echoing what it sent.
    response.with_header("WWW-Authenticate", "Bearer realm=\"callsign\"");
  } else if (status == 503) {
    // A dependency (Redis, the disk) is away for now: tell clients when to come back.
    response.with_header("Retry-After", std::to_string(unavailable_retry_after.load(std::memory_order_relaxed)));
  }
  return response;
}

}  // namespace callsign::server
