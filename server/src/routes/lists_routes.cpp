// Admin control of the account-takeover lists (docs/lists.md), all admin role:
//   GET  /v1/admin/lists                 status of the four lists
//   POST /v1/admin/lists/{name}/reload   re-read the configured source (audited)
//   PUT  /v1/admin/lists/{name}          replace the source with the body (audited); callsignd
//                                        streams the body to disk (server/lists/list_upload.hpp)
// Reloads and uploads run on the worker pool; the audit entry is durable before the reply, and
// entries are journaled in the order of the versions they record.
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <variant>
#include <vector>

#include "routes/route_support.hpp"
#include "server/json_writer.hpp"
#include "server/lists/list_registry.hpp"
#include "server/lists/list_upload.hpp"
#include "server/problem.hpp"
#include "server/query_string.hpp"
#include "server/routes.hpp"

namespace callsign::server {

namespace {

void write_status(json_writer& w, const list_status& s) {
  w.begin_object();
  w.field("name", list_name(s.id));
  w.field("version", s.version);
  w.field("entries", s.entries);
  w.key("sha256");
  if (s.sha256.empty()) w.null(); else w.value(s.sha256);
  w.key("loaded_at");
  if (s.loaded_at == 0) w.null(); else w.value(s.loaded_at);
  w.field("source", s.source.string());
  w.key("last_error");
  if (s.last_error.empty()) w.null(); else w.value(s.last_error);
  w.field("refresh_seconds", static_cast<std::int64_t>(s.refresh_interval.count()));
  w.end_object();
}

result<list_id> list_from_path(const app_context& app, const http_request& request) {
  if (app.lists == nullptr) return make_error(error_kind::unavailable, "lists are not loaded");
  auto id = parse_list_name(request.path_param("name").value_or(""));
  if (!id) {
    return make_error(error_kind::not_found,
                      "no such list (open_proxies, managed_devices, exposed_credentials, exposed_passwords)");
  }
  return *id;
}

// The audited reply of a reload or upload: 200 with the status, or the error (content errors
// become 422) once the audit entry is committed.
deferred_response audited(app_context& app, const principal& who, const http_request& request, std::string action,
                          list_id id, const result<reload_outcome>& outcome,
                          const std::vector<std::pair<std::string, std::string>>& extra) {
  auto audit = audit_for(app, who, request, std::move(action), "");
  audit.details.emplace_back("list", std::string(list_name(id)));
  for (const auto& detail : extra) audit.details.push_back(detail);
  deferred_response deferred;
  if (!outcome) {
    audit.outcome = "rejected";
    audit.details.emplace_back("error", outcome.error().message.substr(0, 512));
    deferred.changes.add_audit(std::move(audit));
    error err = outcome.error();
    if (err.kind == error_kind::invalid_input) err.kind = error_kind::rejected;
    deferred.finish = [err](const result<storage::commit_receipt>&) { return error_response(err); };
    return deferred;
  }
  const list_status& s = outcome->status;
  audit.outcome = outcome->changed ? "reloaded" : "unchanged";
  audit.details.emplace_back("version", std::to_string(s.version));
  audit.details.emplace_back("entries", std::to_string(s.entries));
  audit.details.emplace_back("sha256", s.sha256);
  deferred.changes.add_audit(std::move(audit));
  json_writer w;
  w.begin_object().field("changed", outcome->changed).key("list");
  write_status(w, s);
  w.end_object();
  deferred.finish = [body = std::move(w).str()](const result<storage::commit_receipt>&) {
    return json_response(200, body);
  };
  return deferred;
}

// Runs `load` (a reload or an install) and journals its outcome in version order: the entry is
// submitted to the first-in, first-out writer from the registry's ordered_report, while no other
// reload can take the next version, and the reply waits (on this worker) until it is durable.
handler_result journaled(app_context& app, const principal& who, const http_request& request, std::string_view action,
                         list_id id, const std::vector<std::pair<std::string, std::string>>& extra,
                         const std::function<result<reload_outcome>(const ordered_report&)>& load) {
  std::optional<deferred_response> reply;
  auto committed = std::make_shared<std::promise<result<storage::commit_receipt>>>();
  auto durable = committed->get_future();
  (void)load([&](list_id, const result<reload_outcome>& outcome) {
    reply = audited(app, who, request, std::string(action), id, outcome, extra);
    if (app.writer != nullptr) {
      app.writer->submit(std::move(reply->changes),
                         [committed](result<storage::commit_receipt> done) { committed->set_value(std::move(done)); });
      reply->changes = storage::change_set{};
    }
  });
  if (!reply) return make_error(error_kind::internal, "the list registry reported no outcome");
  if (app.writer == nullptr) return std::move(*reply);  // the session answers that nothing can be stored
  return router::finish(*reply, durable.get());
}

handler_result get_lists(app_context& app, http_request& request) {
  auto who = caller(app, request, {role::admin});
  if (!who) return who.error();
  if (auto known = query_only(request.query, {}); !known) return known.error();
  if (app.lists == nullptr) return make_error(error_kind::unavailable, "lists are not loaded");
  json_writer w;
  w.begin_object().key("lists").begin_array();
  for (const auto& s : app.lists->statuses()) write_status(w, s);
  w.end_array().end_object();
  return json_response(200, std::move(w).str());
}

handler_result reload_list(app_context& app, http_request& request) {
  auto who = caller(app, request, {role::admin});
  if (!who) return who.error();
  auto id = list_from_path(app, request);
  if (!id) return id.error();
  return journaled(app, *who, request, "lists.reload", *id, {},
                   [&](const ordered_report& report) { return app.lists->reload(*id, report); });
}

handler_result put_list(app_context& app, http_request& request) {
  auto admitted = admit_list_upload(app, request, request.body.size());
  if (auto* refused = std::get_if<http_response>(&admitted)) return std::move(*refused);
  const auto& ticket = std::get<list_upload_ticket>(admitted);
  if (ticket.declared_too_large) {
    return refused_list_upload(app, request, ticket, upload_refusal::too_large, 0, upload_too_large_response(ticket.limit));
  }
  auto file = upload_file::create(ticket.path, ticket.limit);
  if (!file) return file.error();
  if (auto stored = file->write(request.body); !stored) return stored.error();
  request.body.clear();
  request.body.shrink_to_fit();
  return install_list_upload(app, request, ticket, *file);
}

}  // namespace

handler_result install_list_upload(app_context& app, const http_request& request, const list_upload_ticket& ticket,
                                   upload_file& file) {
  if (app.lists == nullptr) {
    file.abort();
    return make_error(error_kind::unavailable, "lists are not loaded");
  }
  auto stored = file.finish();
  if (!stored) return stored.error();
  return journaled(app, ticket.who, request, "lists.upload", ticket.id,
                   {{"bytes", std::to_string(stored->bytes)}, {"upload_sha256", stored->sha256}},
                   [&](const ordered_report& report) { return app.lists->install_upload(ticket.id, stored->path, report); });
}

void add_lists_routes(router& routes, app_context& app) {
  routes.add(http_method::get, "/v1/admin/lists", [&app](http_request& r) { return get_lists(app, r); });
  routes.add(http_method::post, "/v1/admin/lists/{name}/reload",
             [&app](http_request& r) { return reload_list(app, r); }, route_execution::worker);
  routes.add(http_method::put, "/v1/admin/lists/{name}", [&app](http_request& r) { return put_list(app, r); },
             route_execution::worker);
}

}  // namespace callsign::server
