#include "server/cluster/list_status.hpp"

#include <algorithm>

#include <simdjson.h>

#include "server/http/json_writer.hpp"

namespace callsign::server {
namespace {

constexpr std::size_t max_error_bytes = 512;
constexpr std::size_t max_value_bytes = 8 * 1024;
constexpr std::size_t max_node_bytes = 64;

error malformed() { return make_error(error_kind::invalid_input, "malformed list status"); }

// A string, or null for "none".
bool optional_text(const simdjson::dom::object& object, const char* name, std::string& out) {
  auto member = object[name];
  if (member.error() != simdjson::SUCCESS) return false;
  if (member.is_null()) return true;
  std::string_view text;
  if (member.get(text) != simdjson::SUCCESS) return false;
  out = std::string(text);
  return true;
}

}  // namespace

std::string list_status_field(std::string_view node, list_id id) {
  std::string field(node);
  field += '/';
  field += list_name(id);
  return field;
}

std::string encode_node_list_status(const list_status& s) {
  json_writer w;
  w.begin_object().field("version", s.version).key("sha256");
  if (s.sha256.empty()) w.null(); else w.value(s.sha256);
  w.field("entries", s.entries).key("loaded_at");
  if (s.loaded_at == 0) w.null(); else w.value(s.loaded_at);
  w.key("last_error");
  if (s.last_error.empty()) w.null(); else w.value(std::string_view(s.last_error).substr(0, max_error_bytes));
  w.end_object();
  return std::move(w).str();
}

result<std::pair<list_id, node_list_status>> decode_node_list_status(std::string_view field, std::string_view json) {
  const auto slash = field.rfind('/');
  if (slash == std::string_view::npos || slash == 0 || slash > max_node_bytes) return malformed();
  const auto id = parse_list_name(field.substr(slash + 1));
  if (!id) return malformed();
  if (json.size() > max_value_bytes) return malformed();
  thread_local simdjson::dom::parser parser;
  simdjson::padded_string padded(json);
  simdjson::dom::object object;
  if (parser.parse(padded).get(object) != simdjson::SUCCESS) return malformed();
  node_list_status s;
  s.node = std::string(field.substr(0, slash));
  if (object["version"].get(s.version) != simdjson::SUCCESS) return malformed();
  if (object["entries"].get(s.entries) != simdjson::SUCCESS) return malformed();
  if (!optional_text(object, "sha256", s.sha256) || !optional_text(object, "last_error", s.last_error)) {
    return malformed();
  }
  auto loaded = object["loaded_at"];
  if (loaded.error() != simdjson::SUCCESS) return malformed();
  if (!loaded.is_null() && loaded.get(s.loaded_at) != simdjson::SUCCESS) return malformed();
  return std::make_pair(*id, std::move(s));
}

cluster_list_statuses group_list_statuses(const std::vector<std::pair<std::string, std::string>>& fields) {
  cluster_list_statuses out;
  for (const auto& [field, value] : fields) {
    auto decoded = decode_node_list_status(field, value);
    if (!decoded) {
      ++out.skipped;
      continue;
    }
    out.by_list[static_cast<std::size_t>(decoded->first)].push_back(std::move(decoded->second));
  }
  for (auto& nodes : out.by_list) {
    std::sort(nodes.begin(), nodes.end(), [](const auto& a, const auto& b) { return a.node < b.node; });
  }
  return out;
}

}  // namespace callsign::server
