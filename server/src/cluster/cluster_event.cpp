#include "server/cluster/cluster_event.hpp"

#include <simdjson.h>

#include "server/http/json_writer.hpp"

namespace callsign::server {
namespace {

constexpr std::size_t max_event_bytes = 64 * 1024;

std::string_view type_name(cluster_event_kind kind) {
  switch (kind) {
    case cluster_event_kind::verified: return "verified";
    case cluster_event_kind::authenticator_state: return "authenticator_state";
    case cluster_event_kind::block: return "block";
    case cluster_event_kind::unblock: return "unblock";
    case cluster_event_kind::lists_reload: return "lists_reload";
    case cluster_event_kind::user_changed: return "user";
    case cluster_event_kind::authenticator_changed: return "authenticator";
    case cluster_event_kind::rules_installed: return "rules";
  }
  return "unknown";
}

error malformed() { return make_error(error_kind::invalid_input, "malformed cluster event"); }

struct reader {
  simdjson::dom::object object;
  bool ok = true;

  std::string text(const char* name) {
    std::string_view value;
    if (object[name].get(value) != simdjson::SUCCESS) {
      ok = false;
      return {};
    }
    return std::string(value);
  }
  std::int64_t integer(const char* name) {
    std::int64_t value = 0;
    if (object[name].get(value) != simdjson::SUCCESS) {
      ok = false;
    }
    return value;
  }
};

}  // namespace

std::string encode_cluster_event(const cluster_event& e) {
  json_writer json;
  json.begin_object().field("type", type_name(e.kind));
  switch (e.kind) {
    case cluster_event_kind::verified:
      json.field("node", e.node).field("user", e.user).field("agent", e.agent).field("method", e.method).field("at", e.at);
      break;
    case cluster_event_kind::authenticator_state:
      json.field("node", e.node).field("user", e.user).field("state", e.state).field("at", e.at);
      break;
    case cluster_event_kind::block:
      json.field("key", e.block.key)
          .field("until_ms", e.block.until_ms)
          .field("created_ms", e.block.created_ms)
          .field("rule", e.block.rule);
      break;
    case cluster_event_kind::unblock:
      json.field("key", e.block.key);
      break;
    case cluster_event_kind::lists_reload:
      json.field("node", e.node).field("list", e.list);
      break;
    case cluster_event_kind::user_changed:
      json.field("id", e.user).field("version", e.version);
      break;
    case cluster_event_kind::authenticator_changed:
      json.field("user", e.user).field("version", e.version);
      break;
    case cluster_event_kind::rules_installed:
      json.field("node", e.node).field("revision", e.version).field("sha256", e.sha256);
      break;
  }
  json.end_object();
  return std::move(json).str();
}

result<cluster_event> decode_cluster_event(std::string_view json) {
  if (json.size() > max_event_bytes) {
    return malformed();
  }
  thread_local simdjson::dom::parser parser;
  simdjson::padded_string padded(json);
  reader r;
  if (parser.parse(padded).get(r.object) != simdjson::SUCCESS) {
    return malformed();
  }
  const auto type = r.text("type");
  if (!r.ok) {
    return malformed();
  }
  cluster_event e;
  if (type == "verified") {
    e.kind = cluster_event_kind::verified;
    e.node = r.text("node");
    e.user = r.text("user");
    e.agent = r.text("agent");
    e.method = r.text("method");
    e.at = r.integer("at");
  } else if (type == "authenticator_state") {
    e.kind = cluster_event_kind::authenticator_state;
    e.node = r.text("node");
    e.user = r.text("user");
    e.state = r.text("state");
    e.at = r.integer("at");
  } else if (type == "block") {
    e.kind = cluster_event_kind::block;
    e.block.key = r.text("key");
    e.block.until_ms = r.integer("until_ms");
    e.block.created_ms = r.integer("created_ms");
    e.block.rule = r.text("rule");
    if (!e.block.times_in_range()) return malformed();
  } else if (type == "unblock") {
    e.kind = cluster_event_kind::unblock;
    e.block.key = r.text("key");
  } else if (type == "lists_reload") {
    e.kind = cluster_event_kind::lists_reload;
    e.node = r.text("node");
    e.list = r.text("list");
  } else if (type == "user") {
    e.kind = cluster_event_kind::user_changed;
    e.user = r.text("id");
    e.version = static_cast<std::uint64_t>(r.integer("version"));
  } else if (type == "authenticator") {
    e.kind = cluster_event_kind::authenticator_changed;
    e.user = r.text("user");
    e.version = static_cast<std::uint64_t>(r.integer("version"));
  } else if (type == "rules") {
    e.kind = cluster_event_kind::rules_installed;
    e.node = r.text("node");
    const auto revision = r.integer("revision");
    e.version = static_cast<std::uint64_t>(revision);
    e.sha256 = r.text("sha256");
    if (revision < 1 || e.sha256.size() != 64) return malformed();
  } else {
    return malformed();
  }
  if (!r.ok) {
    return malformed();
  }
  return e;
}

}  // namespace callsign::server
