// PUT /v1/admin/lists/{name} in two halves around the body, so the session layer can stream
// the body to disk instead of holding it: admit_list_upload decides from the header alone
// (401, 403, 404, 409, 411, 413, 503) before any body byte is read; install_list_upload finishes the
// stored file, validates it, swaps it in and audits. The router's handler for the route runs
// both halves around an in-memory body (tests, fuzzing); callsignd streams (docs/lists.md).
// install_list_upload lives in routes/lists_routes.cpp: it shares the audited reply with reload.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string_view>
#include <variant>

#include "server/app_context.hpp"
#include "server/auth/role.hpp"
#include "server/http/http_types.hpp"
#include "server/http/router.hpp"
#include "server/lists/list_registry.hpp"
#include "server/lists/upload_file.hpp"

namespace callsign::server {

// What the list routes and both upload halves use, complete at construction: add_lists_routes
// refuses to register without the registry or the commit sink, so no request checks for them.
struct list_services {
  app_context& app;              // authentication, config, clock, log
  list_registry& lists;
  storage::commit_sink& writer;  // audit entries, durable before each reply
};

// An admitted upload: who sends it, to which list, where to write it, and its byte limit.
struct list_upload_ticket {
  principal who;
  list_id id = list_id::open_proxies;
  std::filesystem::path path;  // a fresh name next to the list's source (list_registry::upload_path)
  std::uint64_t limit = 0;     // list_registry::upload_limit
  // Content-Length over `limit`: the caller answers refused_list_upload(too_large) at once,
  // without creating a file or reading the body.
  bool declared_too_large = false;
};

// Why an admitted upload (an authenticated admin, a known list) ended without being installed.
enum class upload_refusal {
  too_large,     // over the list's limit, declared or while streaming: 413
  too_slow,      // below lists.upload_min_bytes_per_second: 408
  aborted,       // the client disconnected, stalled past the request timeout or sent a bad body
  store_failed,  // the upload file could not be written
};
std::string_view upload_refusal_name(upload_refusal reason) noexcept;

// The audit entry of such an upload: action lists.upload, outcome "refused", details list,
// reason and bytes_stored (what reached the upload file, in 64 KiB chunks, before it was
// removed). Never anything from the body.
storage::audit_draft refused_upload_audit(const app_context& app, const http_request& request,
                                          const list_upload_ticket& ticket, upload_refusal reason,
                                          std::uint64_t bytes_stored);

// The audited refusal: `reply` once the entry is durable, as for every admin action.
handler_result refused_list_upload(const app_context& app, const http_request& request, const list_upload_ticket& ticket,
                                   upload_refusal reason, std::uint64_t bytes_stored, http_response reply);

// `request` carries the header only (path params resolved by the router). `declared_length`
// is the Content-Length when there is one; `chunked` says the body comes in chunks instead.
// With neither, the body's end is unknowable: 411, so bytes that never arrived cannot install
// an empty list. Either a ticket (check declared_too_large), or the response to send instead
// of reading the body (401, 403, 404, 409 for a list loaded from its URL, 411, 503: not audited,
// as no admin acted on a list).
std::variant<list_upload_ticket, http_response> admit_list_upload(const list_services& services,
                                                                  const http_request& request,
                                                                  std::optional<std::uint64_t> declared_length,
                                                                  bool chunked = false);

// Finishes `file` (fsync), installs it as the ticket's list and returns the audited reply
// (200, or 422 for rejected content) once its audit entry is durable in services.writer. The
// file never outlives a failure. Runs on the worker pool: it reads the whole upload and waits.
handler_result install_list_upload(const list_services& services, const http_request& request,
                                   const list_upload_ticket& ticket, upload_file& file);

// 413 for a body over `limit` bytes.
http_response upload_too_large_response(std::uint64_t limit);

// 408 for an upload slower than `min_bytes_per_second` on average (the floor the session checks
// with body_rate_deadline, server/http/body_rate.hpp: lists.upload_min_bytes_per_second).
http_response upload_too_slow_response(std::uint64_t min_bytes_per_second);

}  // namespace callsign::server
