// The login rules for admins (docs/rules.md, "Lifecycle"), all admin role:
//   GET  /v1/admin/rules               the rule file serving, its rules and their hit counts
//   PUT  /v1/admin/rules               replace the file (TOML body): validated, written, swapped
//   POST /v1/admin/rules/reload        read the file again
//   POST /v1/admin/rules/test          evaluate a sample request (against a draft or the serving set)
//   POST /v1/admin/rules/{id}/shadow   turn a rule's shadow mode on or off (edits the file's text)
// Every change, and every refused change, is audited with its diff; the entry is durable before
// the reply, and entries are journaled in version order (one change at a time).
#include <future>
#include <mutex>
#include <stdexcept>

#include "routes/route_support.hpp"
#include "server/cluster/cluster_link.hpp"
#include "server/cluster/cluster_rules.hpp"
#include "server/http/json_body.hpp"
#include "server/http/json_writer.hpp"
#include "server/http/problem.hpp"
#include "server/lists/list_registry.hpp"
#include "server/routes/routes.hpp"
#include "server/rules/login_decision.hpp"
#include "server/rules/rule_change_audit.hpp"
#include "server/rules/rule_registry.hpp"
#include "server/rules/rule_request.hpp"
#include "server/rules/rule_shadow_edit.hpp"

namespace callsign::server {

namespace {

struct rules_services {
  app_context& app;
  rule_registry& rules;
  list_registry& lists;
  storage::commit_sink& writer;
  std::shared_ptr<std::mutex> changing = std::make_shared<std::mutex>();  // one change journaled at a time
};

// A rate limit's characteristics as the rule file writes them.
void write_characteristics(json_writer& w, login_key_kind kind) {
  w.key("characteristics").begin_array();
  if (kind != login_key_kind::username) w.value("ip.src");
  if (kind != login_key_kind::ip) w.value("login.username");
  w.end_array();
}

// Several nodes: every node's rules status, or why Redis could not be read (docs/cluster.md, "Rules").
void write_nodes(json_writer& w, const result<cluster_rules_statuses>& nodes) {
  if (!nodes) {
    w.field("nodes_error", "cannot read the nodes' rules statuses from Redis: " + nodes.error().message);
    return;
  }
  w.field("cluster_revision", nodes->revision);
  w.key("nodes").begin_array();
  for (const auto& n : nodes->nodes) {
    w.begin_object().field("node", n.node).field("version", n.version).field("sha256", n.sha256).key("loaded_at");
    if (n.loaded_at == 0) w.null(); else w.value(n.loaded_at);
    w.field("revision", n.revision).end_object();
  }
  w.end_array();
}

std::string rules_body(const installed_rules& now, const std::filesystem::path& source,
                       const result<cluster_rules_statuses>* nodes = nullptr) {
  json_writer w;
  w.begin_object().field("version", now.version).field("sha256", now.sha256).field("source", source.string());
  w.key("loaded_at");
  if (now.loaded_at_ms == 0) w.null(); else w.value(now.loaded_at_ms / 1000);
  w.field("text", now.text);
  w.key("rules").begin_array();
  const auto& list = now.set->rules();
  for (std::size_t i = 0; i < list.size(); ++i) {
    const auto& r = list[i];
    w.begin_object()
        .field("id", r.id)
        .field("action", rules::action_name(r.act))
        .field("shadow", r.shadow)
        .field("description", r.description)
        .field("expression", r.expression)
        .field("line", static_cast<std::int64_t>(r.line))
        .field("hits", now.counters->hits[i].load(std::memory_order_relaxed))
        .field("shadow_hits", now.counters->shadow_hits[i].load(std::memory_order_relaxed))
        .end_object();
  }
  w.end_array();
  // The limits in force: the file's, or [login]'s when the file has none ("source" says which).
  w.field("rate_limits_from", now.rate_rules_from_file ? "rule_file" : "config");
  w.key("rate_limits").begin_array();
  for (std::size_t i = 0; i < now.rate_rules.size(); ++i) {
    const auto& r = now.rate_rules[i];
    w.begin_object().field("id", r.name);
    w.key("expression");
    if (now.rate_rules_from_file) w.value(now.set->rate_limits()[i].expression); else w.value("not login.success");
    write_characteristics(w, r.kind);
    w.field("limit", r.limit)
        .field("period", r.window_seconds)
        .field("mitigation_timeout", r.block_seconds)
        .field("shadow", r.shadow)
        .end_object();
  }
  w.end_array();
  if (nodes != nullptr) write_nodes(w, *nodes);
  w.end_object();
  return std::move(w).str();
}

// This node's part in a cluster; null with the embedded backend.
cluster_rules* cluster_of(const app_context& app) { return app.cluster != nullptr ? app.cluster->rules() : nullptr; }

// Several nodes: stored in Redis first, so every node installs it (docs/cluster.md, "Rules").
rules_outcome install_text(const rules_services& services, std::string_view text) {
  if (auto* cluster = cluster_of(services.app)) return cluster->install(text);
  return services.rules.replace(text);
}

handler_result get_rules(const rules_services& services, http_request& request) {
  auto who = caller(services.app, request, {role::admin});
  if (!who) return who.error();
  auto* cluster = cluster_of(services.app);
  if (cluster == nullptr) return json_response(200, rules_body(*services.rules.published(), services.rules.path()));
  return async_response{[cluster, now = services.rules.published(), source = services.rules.path()](
                            std::function<void(handler_result)> resume) {
    cluster->read([now, source, resume](result<cluster_rules_statuses> nodes) {
      resume(json_response(200, rules_body(*now, source, &nodes)));
    });
  }};
}

void add_change_audit(const rules_services& services, const principal& who, const http_request& request,
                      std::string_view action, const rules_change& change, storage::change_set& changes) {
  auto draft = [&](std::string name) { return audit_for(services.app, who, request, std::move(name), ""); };
  for (auto& entry : rule_change_audit(draft, action, change)) changes.add_audit(std::move(entry));
}

void add_refusal_audit(const rules_services& services, const principal& who, const http_request& request,
                       std::string_view action, std::string_view message, storage::change_set& changes) {
  changes.add_audit(rule_refusal_audit(audit_for(services.app, who, request, std::string(action), ""), message));
}

http_response changed_body(const rules_change& change) {
  json_writer w;
  w.begin_object()
      .field("changed", change.changed)
      .field("version", change.after->version)
      .field("sha256", change.after->sha256)
      .field("rules", static_cast<std::uint64_t>(change.after->set->rules().size()))
      .field("rate_limits", static_cast<std::uint64_t>(change.after->rate_rules.size()))
      .end_object();
  return json_response(200, std::move(w).str());
}

// Runs one change and journals it, one at a time, so entries follow the versions; the reply
// waits (on this worker) until the entry is durable.
handler_result journaled_change(const rules_services& services, const principal& who, const http_request& request,
                                std::string_view action, const std::function<rules_outcome()>& apply) {
  deferred_response reply;
  auto committed = std::make_shared<std::promise<result<storage::commit_receipt>>>();
  auto durable = committed->get_future();
  {
    std::lock_guard lock(*services.changing);
    auto outcome = apply();
    if (auto* change = std::get_if<rules_change>(&outcome)) {
      add_change_audit(services, who, request, action, *change, reply.changes);
      reply.finish = [response = changed_body(*change)](const result<storage::commit_receipt>&) { return response; };
      if (change->changed) {
        services.app.log.info("rules installed", {{"version", change->after->version},
                                                   {"sha256", change->after->sha256},
                                                   {"rules", static_cast<std::uint64_t>(change->after->set->rules().size())}});
      }
    } else if (auto* why = std::get_if<rules::rule_error>(&outcome)) {
      add_refusal_audit(services, who, request, action, why->message, reply.changes);
      reply.finish = [response = rule_error_response(*why)](const result<storage::commit_receipt>&) { return response; };
    } else {
      const auto& failed = std::get<error>(outcome);
      add_refusal_audit(services, who, request, action, client_detail(failed), reply.changes);
      if (failed.kind == error_kind::storage_failed || failed.kind == error_kind::internal) {
        services.app.log.error("rule file change failed", {{"error", failed.message}});
      }
      reply.finish = [failed](const result<storage::commit_receipt>&) { return error_response(failed); };
    }
    services.writer.submit(std::move(reply.changes),
                           [committed](result<storage::commit_receipt> done) { committed->set_value(std::move(done)); });
    reply.changes = storage::change_set{};
  }
  return router::finish(reply, durable.get());
}

bool is_rule_text_type(const http_request& request) {
  const auto media = request.media_type();
  return media == "application/toml" || media == "text/plain";
}

handler_result put_rules(const rules_services& services, http_request& request) {
  auto who = caller(services.app, request, {role::admin});
  if (!who) return who.error();
  if (!is_rule_text_type(request)) {
    return make_error(error_kind::unsupported_media_type, "Content-Type must be application/toml or text/plain (the rule file)");
  }
  return journaled_change(services, *who, request, "rules.replace", [&] {
    return install_text(services, request.body);
  });
}

handler_result reload_rules(const rules_services& services, http_request& request) {
  auto who = caller(services.app, request, {role::admin});
  if (!who) return who.error();
  return journaled_change(services, *who, request, "rules.reload", [&]() -> rules_outcome {
    if (auto* cluster = cluster_of(services.app)) return cluster->reload();
    return services.rules.reload();
  });
}

handler_result set_shadow(const rules_services& services, http_request& request) {
  auto who = caller(services.app, request, {role::admin});
  if (!who) return who.error();
  auto body = json_body::parse(request);
  if (!body) return body.error();
  if (auto known = body->only({"shadow"}); !known) return known.error();
  auto on = body->required_bool("shadow");
  if (!on) return on.error();
  const std::string id(request.path_param("id").value_or(""));
  return journaled_change(services, *who, request, "rules.shadow", [&]() -> rules_outcome {
    const auto now = services.rules.published();
    const auto& list = now->set->rules();
    auto found = std::find_if(list.begin(), list.end(), [&](const auto& r) { return r.id == id; });
    if (found == list.end()) return make_error(error_kind::not_found, "no rule with that id");
    auto edited = set_shadow_in_text(now->text, found->line, *on);
    if (!edited) return make_error(error_kind::conflict, "the rule file cannot be edited here; PUT it instead");
    // Only that flag may change: anything else means the text edit went wrong.
    auto compiled = services.rules.compile(*edited, *services.lists.snapshot());
    auto* set = std::get_if<std::shared_ptr<const rules::rule_set>>(&compiled);
    bool only_flag = set != nullptr && (*set)->rules().size() == list.size();
    for (std::size_t i = 0; only_flag && i < list.size(); ++i) {
      const auto& a = list[i];
      const auto& b = (*set)->rules()[i];
      only_flag = a.id == b.id && a.expression == b.expression && a.act == b.act &&
                  b.shadow == (a.id == id ? *on : a.shadow);
    }
    if (!only_flag) return make_error(error_kind::conflict, "the rule file cannot be edited here; PUT it instead");
    return install_text(services, *edited);
  });
}

// {"rules": "<toml>" (optional: the serving set), "request": {...}}: the fields a rule sees, as
// POST /v1/login/check would gather them, plus the signals and counts it would compute.
handler_result test_rules(const rules_services& services, http_request& request) {
  auto who = caller(services.app, request, {role::admin});
  if (!who) return who.error();
  auto body = json_body::parse(request);
  if (!body) return body.error();
  if (auto known = body->only({"rules", "request"}); !known) return known.error();
  auto text = body->optional_string("rules", services.rules.config().max_file_bytes);
  if (!text) return text.error();
  auto sample = body->optional_object("request");
  if (!sample) return sample.error();
  if (!*sample) return make_error(error_kind::invalid_input, "missing field 'request'");
  const auto& req = **sample;
  if (auto known = req.only({"ip", "path", "method", "host", "user_agent", "headers", "bot_score", "username_present",
                             "exposed_credential", "exposed_password", "device_managed", "device_serial_present",
                             "login_failures_ip", "login_failures_username"});
      !known) {
    return known.error();
  }
  auto http = decode_rule_request(req);
  if (!http) return http.error();
  auto fields = rule_fields_of(*http);
  auto ip = req.optional_string("ip", 64);
  if (!ip) return ip.error();
  if (*ip) {
    auto address = parse_ip_address(**ip);
    if (!address) return make_error(error_kind::invalid_input, "field 'ip' must be an IPv4 or IPv6 address");
    fields.ip_src = *address;
  }
  for (auto [name, flag] : {std::pair{"username_present", &fields.username_present},
                            std::pair{"exposed_credential", &fields.exposed_credential},
                            std::pair{"exposed_password", &fields.exposed_password},
                            std::pair{"device_managed", &fields.device_managed},
                            std::pair{"device_serial_present", &fields.device_serial_present}}) {
    auto value = req.optional_bool(name);
    if (!value) return value.error();
    *flag = value->value_or(false);
  }
  for (auto [name, count] : {std::pair{"login_failures_ip", &fields.login_failures_ip},
                             std::pair{"login_failures_username", &fields.login_failures_username}}) {
    auto value = req.optional_integer(name, 0, 1'000'000'000);
    if (!value) return value.error();
    *count = value->value_or(0);
  }

  std::shared_ptr<const rules::rule_set> set;
  if (*text) {
    auto compiled = services.rules.compile(**text, *services.lists.snapshot());
    if (auto* why = std::get_if<rules::rule_error>(&compiled)) return rule_error_response(*why);
    set = std::get<std::shared_ptr<const rules::rule_set>>(compiled);
  } else {
    set = services.rules.current(*services.lists.snapshot())->set;
  }
  rules::decision decided;  // a test counts no hits
  set->evaluate(fields, decided);
  json_writer w;
  w.begin_object().key("decision").begin_object().key("action");
  if (decided.act) w.value(rules::action_name(*decided.act)); else w.null();
  w.key("rule");
  if (decided.rule) w.value(set->rules()[*decided.rule].id); else w.null();
  w.end_object();
  w.key("logged").begin_array();
  for (auto i : decided.logged) w.value(set->rules()[i].id);
  w.end_array().key("shadow").begin_array();
  for (auto i : decided.shadow) w.value(set->rules()[i].id);
  w.end_array().end_object();
  return json_response(200, std::move(w).str());
}

}  // namespace

void add_admin_rules_routes(router& routes, app_context& app) {
  if (app.rules == nullptr || app.lists == nullptr || app.writer == nullptr) {
    throw std::logic_error("the rules routes need the rule registry, the lists and the commit sink");
  }
  auto services = std::make_shared<rules_services>(rules_services{app, *app.rules, *app.lists, *app.writer});
  routes.add(http_method::get, "/v1/admin/rules", [services](http_request& r) { return get_rules(*services, r); });
  // Compiling (RE2 programs) and writing the file run on the worker pool.
  routes.add(http_method::put, "/v1/admin/rules", [services](http_request& r) { return put_rules(*services, r); },
             route_execution::worker);
  routes.add(http_method::post, "/v1/admin/rules/reload",
             [services](http_request& r) { return reload_rules(*services, r); }, route_execution::worker);
  routes.add(http_method::post, "/v1/admin/rules/test",
             [services](http_request& r) { return test_rules(*services, r); }, route_execution::worker);
  routes.add(http_method::post, "/v1/admin/rules/{id}/shadow",
             [services](http_request& r) { return set_shadow(*services, r); }, route_execution::worker);
}

}  // namespace callsign::server
