#include "server/cluster/rules_status.hpp"

#include <algorithm>
#include <charconv>

#include <simdjson.h>

#include "server/http/json_writer.hpp"

namespace callsign::server {
namespace {

constexpr std::size_t max_node_bytes = 64;
constexpr std::size_t max_value_bytes = 1024;

error malformed(std::string_view what) { return make_error(error_kind::invalid_input, "malformed " + std::string(what)); }

bool parse_unsigned(std::string_view text, std::uint64_t& out) {
  if (text.empty() || text.size() > 20) return false;
  const auto* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, out);
  return ec == std::errc{} && ptr == end;
}

bool is_sha256_hex(std::string_view text) {
  return text.size() == 64 &&
         std::all_of(text.begin(), text.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

}  // namespace

result<cluster_rule_file> decode_cluster_rule_file(const hash_fields& fields) {
  cluster_rule_file file;
  if (fields.empty()) return file;
  bool has_revision = false, has_text = false, has_sha = false;
  for (const auto& [name, value] : fields) {
    if (name == "revision") {
      has_revision = parse_unsigned(value, file.revision) && file.revision > 0;
    } else if (name == "text") {
      file.text = value;
      has_text = true;
    } else if (name == "sha256") {
      file.sha256 = value;
      has_sha = is_sha256_hex(value);
    } else if (name == "node") {
      file.node = value.substr(0, max_node_bytes);
    } else if (name == "at") {
      std::uint64_t at = 0;
      if (parse_unsigned(value, at)) file.at_ms = static_cast<std::int64_t>(at);
    }
  }
  if (!has_revision || !has_text || !has_sha) return malformed("cluster rule file in Redis");
  return file;
}

std::string encode_node_rules_status(const node_rules_status& s) {
  json_writer w;
  w.begin_object().field("version", s.version).field("sha256", s.sha256).key("loaded_at");
  if (s.loaded_at == 0) w.null(); else w.value(s.loaded_at);
  w.field("revision", s.revision).end_object();
  return std::move(w).str();
}

result<node_rules_status> decode_node_rules_status(std::string_view field, std::string_view json) {
  if (field.empty() || field.size() > max_node_bytes || json.size() > max_value_bytes) {
    return malformed("rules status");
  }
  thread_local simdjson::dom::parser parser;
  simdjson::padded_string padded(json);
  simdjson::dom::object object;
  if (parser.parse(padded).get(object) != simdjson::SUCCESS) return malformed("rules status");
  node_rules_status s;
  s.node = std::string(field);
  std::string_view sha;
  if (object["version"].get(s.version) != simdjson::SUCCESS || object["revision"].get(s.revision) != simdjson::SUCCESS ||
      object["sha256"].get(sha) != simdjson::SUCCESS || !is_sha256_hex(sha)) {
    return malformed("rules status");
  }
  s.sha256 = std::string(sha);
  auto loaded = object["loaded_at"];
  if (loaded.error() != simdjson::SUCCESS) return malformed("rules status");
  if (!loaded.is_null() && loaded.get(s.loaded_at) != simdjson::SUCCESS) return malformed("rules status");
  return s;
}

cluster_rules_statuses group_rules_statuses(const hash_fields& fields) {
  cluster_rules_statuses out;
  for (const auto& [field, value] : fields) {
    auto decoded = decode_node_rules_status(field, value);
    if (!decoded) {
      ++out.skipped;
      continue;
    }
    out.nodes.push_back(std::move(*decoded));
  }
  std::sort(out.nodes.begin(), out.nodes.end(), [](const auto& a, const auto& b) { return a.node < b.node; });
  return out;
}

rules_sync_step plan_rules_sync(const cluster_rule_file& latest, std::uint64_t applied_revision,
                                std::string_view local_sha256, bool local_has_file) {
  if (latest.revision == 0) return local_has_file || applied_revision > 0 ? rules_sync_step::store : rules_sync_step::nothing;
  // A failover lost revisions this node already serves: put them back rather than go back.
  if (latest.revision < applied_revision) return rules_sync_step::store;
  if (latest.sha256 == local_sha256) {
    return latest.revision == applied_revision ? rules_sync_step::nothing : rules_sync_step::record;
  }
  return rules_sync_step::adopt;
}

}  // namespace callsign::server
