// Admin control of the account-takeover lists (docs/lists.md), all admin role:
//   GET  /v1/admin/lists                 status of the four lists (several nodes: each node's
//                                        too, read with one HGETALL; docs/cluster.md, "Lists")
//   POST /v1/admin/lists/{name}/reload   re-read the configured source (audited)
//   PUT  /v1/admin/lists/{name}          replace the source with the body (audited); a streamed
//                                        route: callsignd admits it from the header and streams
//                                        the body to disk (server/lists/list_upload.hpp); 409
//                                        for a list loaded from a URL
// Reloads and uploads run on the worker pool; the audit entry is durable before the reply, and
// entries are journaled in the order of the versions they record.
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <stdexcept>
#include <variant>
#include <vector>

#include "routes/route_support.hpp"
#include "server/cluster/cluster_lists.hpp"
#include "server/http/json_writer.hpp"
#include "server/http/problem.hpp"
#include "server/lists/list_registry.hpp"
#include "server/lists/list_upload.hpp"
#include "server/observability/background_audit.hpp"
#include "server/routes/routes.hpp"

namespace callsign::server {

namespace {

// This node's part in a cluster; null with the embedded backend.
cluster_lists* cluster_of(const app_context& app) {
  return app.cluster != nullptr ? app.cluster->lists() : nullptr;
}

void write_status_members(json_writer& w, const list_status& s) {
  w.field("name", list_name(s.id));
  w.field("version", s.version);
  w.field("entries", s.entries);
  w.key("sha256");
  if (s.sha256.empty()) w.null(); else w.value(s.sha256);
  w.key("loaded_at");
  if (s.loaded_at == 0) w.null(); else w.value(s.loaded_at);
  // A URL list's source is its URL, without userinfo or query (docs/lists.md, "URL sources").
  w.field("source", s.url.empty() ? s.source.string() : s.url);
  w.key("last_error");
  if (s.last_error.empty()) w.null(); else w.value(s.last_error);
  w.field("refresh_seconds", static_cast<std::int64_t>(s.refresh_interval.count()));
  w.key("last_checked");
  if (s.last_checked == 0) w.null(); else w.value(s.last_checked);
  w.key("etag");
  if (s.etag.empty()) w.null(); else w.value(s.etag);
  w.key("last_modified");
  if (s.last_modified.empty()) w.null(); else w.value(s.last_modified);
}

void write_status(json_writer& w, const list_status& s) {
  w.begin_object();
  write_status_members(w, s);
  w.end_object();
}

void write_nodes(json_writer& w, const std::vector<node_list_status>& nodes) {
  w.key("nodes").begin_array();
  for (const auto& n : nodes) {
    w.begin_object().field("node", n.node).field("version", n.version).key("sha256");
    if (n.sha256.empty()) w.null(); else w.value(n.sha256);
    w.field("entries", n.entries).key("loaded_at");
    if (n.loaded_at == 0) w.null(); else w.value(n.loaded_at);
    w.key("last_error");
    if (n.last_error.empty()) w.null(); else w.value(n.last_error);
    w.end_object();
  }
  w.end_array();
}

// This node's statuses; with `nodes` (several nodes), each list also lists every node's status,
// or, when Redis could not be read, `nodes_error` says why and the local view still answers.
std::string lists_body(const std::vector<list_status>& local, const result<cluster_list_statuses>* nodes) {
  json_writer w;
  w.begin_object().key("lists").begin_array();
  for (const auto& s : local) {
    w.begin_object();
    write_status_members(w, s);
    if (nodes != nullptr && *nodes) write_nodes(w, (*nodes)->by_list[static_cast<std::size_t>(s.id)]);
    w.end_object();
  }
  w.end_array();
  if (nodes != nullptr && !*nodes) {
    w.field("nodes_error", "cannot read the nodes' list statuses from Redis: " + nodes->error().message);
  }
  w.end_object();
  return std::move(w).str();
}

result<list_id> list_from_path(const http_request& request) {
  auto id = parse_list_name(request.path_param("name").value_or(""));
  if (!id) {
    return make_error(error_kind::not_found,
                      "no such list (open_proxies, managed_devices, exposed_credentials, exposed_passwords)");
  }
  return *id;
}

// The audited reply of a reload or upload: 200 with the status, or the error (content errors
// become 422) once the audit entry is committed.
deferred_response audited(const app_context& app, const principal& who, const http_request& request, std::string action,
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
handler_result journaled(const list_services& services, const principal& who, const http_request& request, std::string_view action,
                         list_id id, const std::vector<std::pair<std::string, std::string>>& extra,
                         const std::function<result<reload_outcome>(const ordered_report&)>& load) {
  std::optional<deferred_response> reply;
  auto committed = std::make_shared<std::promise<result<storage::commit_receipt>>>();
  auto durable = committed->get_future();
  (void)load([&](list_id, const result<reload_outcome>& outcome) {
    reply = audited(services.app, who, request, std::string(action), id, outcome, extra);
    services.writer.submit(std::move(reply->changes),
                           [committed](result<storage::commit_receipt> done) { committed->set_value(std::move(done)); });
    reply->changes = storage::change_set{};
  });
  if (!reply) return make_error(error_kind::internal, "the list registry reported no outcome");
  return router::finish(*reply, durable.get());
}

handler_result get_lists(const list_services& services, http_request& request) {
  auto who = caller(services.app, request, {role::admin});
  if (!who) return who.error();
  auto* cluster = cluster_of(services.app);
  if (cluster == nullptr) return json_response(200, lists_body(services.lists.statuses(), nullptr));
  return async_response{[cluster, local = services.lists.statuses()](std::function<void(handler_result)> resume) {
    cluster->read([local, resume](result<cluster_list_statuses> nodes) {
      resume(json_response(200, lists_body(local, &nodes)));
    });
  }};
}

handler_result reload_list(const list_services& services, http_request& request) {
  auto who = caller(services.app, request, {role::admin});
  if (!who) return who.error();
  auto id = list_from_path(request);
  if (!id) return id.error();
  return journaled(services, *who, request, "lists.reload", *id, {},
                   [&](const ordered_report& report) {
                     auto outcome = services.lists.reload(*id, report);
                     // Several nodes: every other node reloads it too, from its own source.
                     if (auto* cluster = cluster_of(services.app)) cluster->reloaded_by_admin(*id, outcome);
                     return outcome;
                   });
}

// An admitted upload whose file could not be made, written or synced (ENOSPC, EIO): the file is
// gone, the error is logged, and the refusal is audited before its reply, like every admin action.
handler_result store_failed(const list_services& services, const http_request& request,
                            const list_upload_ticket& ticket, std::uint64_t bytes_stored, const error& why) {
  services.app.log.warn("list upload could not be stored", {{"request_id", request.request_id},
                                                              {"list", list_name(ticket.id)},
                                                              {"error", why.message}});
  return refused_list_upload(services.app, request, ticket, upload_refusal::store_failed, bytes_stored,
                             error_response(why));
}

handler_result put_list(const list_services& services, http_request& request) {
  auto admitted = admit_list_upload(services, request, request.body.size());
  if (auto* refused = std::get_if<http_response>(&admitted)) return std::move(*refused);
  const auto& ticket = std::get<list_upload_ticket>(admitted);
  if (ticket.declared_too_large) {
    return refused_list_upload(services.app, request, ticket, upload_refusal::too_large, 0,
                               upload_too_large_response(ticket.limit));
  }
  auto file = upload_file::create(ticket.path, ticket.limit);
  if (!file) {
    return store_failed(services, request, ticket, 0, file.error());
  }
  if (auto stored = file->write(request.body); !stored) {
    return store_failed(services, request, ticket, file->bytes(), stored.error());
  }
  request.body.clear();
  request.body.shrink_to_fit();
  return install_list_upload(services, request, ticket, *file);
}

// The streamed upload's body: the admitted ticket and its upload file. The file removes itself
// unless installed, so a body dropped at any point leaves nothing behind.
class list_upload_body final : public body_stream {
 public:
  list_upload_body(const list_services& services, list_upload_ticket ticket, upload_file file)
      : services_(services), ticket_(std::move(ticket)), file_(std::move(file)) {}

  result<void> write(std::span<const std::uint8_t> chunk) override { return file_.write(chunk); }
  bool over_limit() const noexcept override { return file_.exceeded_limit(); }

  // An admin's upload to a known list that ends here is an admin action: its entry is durable
  // before the refusal is sent, like every audited reply.
  handler_result cut(http_request& request, body_cut cut) override {
    const std::uint64_t stored = file_.bytes();
    switch (cut.why) {
      case body_cut_reason::too_large:
        return refused(request, upload_refusal::too_large, stored, upload_too_large_response(file_.limit()));
      case body_cut_reason::store_failed:
        return refused(request, upload_refusal::store_failed, stored,
                       error_response(cut.store_error.value_or(make_error(error_kind::unavailable, "store failed"))));
      case body_cut_reason::too_slow:
        abandon(request, "slower than lists.upload_min_bytes_per_second");
        return refused(request, upload_refusal::too_slow, stored,
                       upload_too_slow_response(services_.app.config.lists.upload_min_bytes_per_second));
      case body_cut_reason::aborted:
        break;
    }
    abandon(request, cut.detail);
    return refused(request, upload_refusal::aborted, stored,
                   cut.reply.value_or(problem_response(400, "Bad Request", "malformed HTTP request")));
  }

  void abandoned(http_request& request, std::string_view detail) override {
    const std::uint64_t stored = file_.bytes();
    abandon(request, detail);
    // Nobody to answer, so nothing waits for the entry.
    submit_background_audit(&services_.writer, services_.app.log,
                            refused_upload_audit(services_.app, request, ticket_, upload_refusal::aborted, stored));
  }

  handler_result finish(http_request& request) override {
    return install_list_upload(services_, request, ticket_, file_);
  }

 private:
  handler_result refused(const http_request& request, upload_refusal reason, std::uint64_t stored, http_response reply) {
    return refused_list_upload(services_.app, request, ticket_, reason, stored, std::move(reply));
  }
  void abandon(const http_request& request, std::string_view reason) {
    services_.app.log.warn("list upload abandoned", {{"request_id", request.request_id},
                                            {"list", list_name(ticket_.id)},
                                            {"bytes_stored", file_.bytes()},
                                            {"reason", std::string(reason)}});
    file_.abort();
  }

  list_services services_;
  list_upload_ticket ticket_;
  upload_file file_;
};

// Decided from the header alone: a refused caller (401, 403, 404, 411) never has its body
// read; an admin's upload declared over the limit, or whose file cannot be made, is refused
// with its audit entry.
std::variant<std::unique_ptr<body_stream>, handler_result> admit_upload(const list_services& services,
                                                                        http_request& request, body_framing framing) {
  auto admitted = admit_list_upload(services, request, framing.declared_length, framing.chunked);
  if (auto* refused = std::get_if<http_response>(&admitted)) return handler_result(std::move(*refused));
  auto& ticket = std::get<list_upload_ticket>(admitted);
  if (ticket.declared_too_large) {
    return refused_list_upload(services.app, request, ticket, upload_refusal::too_large, 0,
                               upload_too_large_response(ticket.limit));
  }
  auto created = upload_file::create(ticket.path, ticket.limit);
  if (!created) {
    return store_failed(services, request, ticket, 0, created.error());
  }
  return std::make_unique<list_upload_body>(services, std::move(ticket), std::move(created).value());
}

}  // namespace

handler_result install_list_upload(const list_services& services, const http_request& request,
                                   const list_upload_ticket& ticket, upload_file& file) {
  auto stored = file.finish();  // fsync and close: a failure removes the file
  if (!stored) {
    return store_failed(services, request, ticket, file.bytes(), stored.error());
  }
  return journaled(services, ticket.who, request, "lists.upload", ticket.id,
                   {{"bytes", std::to_string(stored->bytes)}, {"upload_sha256", stored->sha256}},
                   [&](const ordered_report& report) {
                     auto outcome = services.lists.install_upload(ticket.id, stored->path, report);
                     // An upload stays on this node (docs/cluster.md, "Lists"); its status is shown.
                     if (auto* cluster = cluster_of(services.app)) cluster->publish_changes();
                     return outcome;
                   });
}

void add_lists_routes(router& routes, app_context& app) {
  if (app.lists == nullptr || app.writer == nullptr) {
    throw std::logic_error("the list routes need the list registry and the commit sink");
  }
  const list_services services{app, *app.lists, *app.writer};
  routes.add(http_method::get, "/v1/admin/lists", [services](http_request& r) { return get_lists(services, r); });
  routes.add(http_method::post, "/v1/admin/lists/{name}/reload",
             [services](http_request& r) { return reload_list(services, r); }, route_execution::worker);
  // callsignd streams the body (stream_steps); put_list serves it from memory (tests, fuzzing).
  routes.add_streamed(
      http_method::put, "/v1/admin/lists/{name}", [services](http_request& r) { return put_list(services, r); },
      stream_steps{[services](http_request& r, body_framing framing) { return admit_upload(services, r, framing); },
                   app.config.lists.upload_min_bytes_per_second},
      route_execution::worker);
}

}  // namespace callsign::server
