// PUT /v1/admin/lists/{name} in two halves around the body, so the session layer can stream
// the body to disk instead of holding it: admit_list_upload decides from the header alone
// (401, 403, 404, 413, 503) before any body byte is read; install_list_upload finishes the
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
#include "server/http_types.hpp"
#include "server/lists/list_registry.hpp"
#include "server/lists/upload_file.hpp"
#include "server/router.hpp"

namespace callsign::server {

// True for PUT /v1/admin/lists/{one segment}[?query]: the requests whose body the session
// layer streams to disk instead of reading it into memory.
bool is_list_upload(std::string_view method, std::string_view target) noexcept;

// An admitted upload: who sends it, to which list, where to write it, and its byte limit.
struct list_upload_ticket {
  principal who;
  list_id id = list_id::open_proxies;
  std::filesystem::path path;  // a fresh name next to the list's source (list_registry::upload_path)
  std::uint64_t limit = 0;     // list_registry::upload_limit
};

// `request` carries the header only (path params resolved by the router). `declared_length`
// is the Content-Length when there is one (none for a chunked body). Either a ticket, or the
// response to send instead of reading the body.
std::variant<list_upload_ticket, http_response> admit_list_upload(const app_context& app, const http_request& request,
                                                                  std::optional<std::uint64_t> declared_length);

// Finishes `file` (fsync), installs it as the ticket's list and returns the audited reply
// (200, or 422 for rejected content). The file never outlives a failure. Runs on the worker
// pool: it reads the whole upload.
handler_result install_list_upload(app_context& app, const http_request& request, const list_upload_ticket& ticket,
                                   upload_file& file);

// 413 for a body over `limit` bytes.
http_response upload_too_large_response(std::uint64_t limit);

}  // namespace callsign::server
