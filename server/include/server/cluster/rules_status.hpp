// The login rules shared through Redis (docs/cluster.md, "Rules"): the cluster's newest rule file
// in the hash cs:rules {revision, text, sha256, node, at}, and each node's status in the hash
// cs:rules:nodes, field <node> -> {"version","sha256","loaded_at","revision"}, so GET
// /v1/admin/rules shows drift. Pure functions, no I/O.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "crypto/result.hpp"

namespace callsign::server {

inline constexpr std::string_view cluster_rules_key = "cs:rules";
inline constexpr std::string_view rules_status_key = "cs:rules:nodes";

using hash_fields = std::vector<std::pair<std::string, std::string>>;

// The cluster's newest rule file. revision 0: none stored yet.
struct cluster_rule_file {
  std::uint64_t revision = 0;
  std::string text;
  std::string sha256;
  std::string node;      // the node that stored it
  std::int64_t at_ms = 0;
};
// The fields of HGETALL cs:rules; an empty hash is revision 0. invalid_input for any other shape
// (the message never quotes a value).
result<cluster_rule_file> decode_cluster_rule_file(const hash_fields& fields);


struct node_rules_status {
  std::string node;
  std::uint64_t version = 0;   // the node's own registry version (0: no rule file)
  std::string sha256;
  std::int64_t loaded_at = 0;  // unix seconds, 0: never loaded
  std::uint64_t revision = 0;  // the cluster revision the node serves (0: none yet)
  bool operator==(const node_rules_status&) const = default;
};
std::string encode_node_rules_status(const node_rules_status& status);  // without the node (the field)
result<node_rules_status> decode_node_rules_status(std::string_view field, std::string_view json);

// Every node's status in node id order; fields that do not decode are left out and counted.
struct cluster_rules_statuses {
  std::vector<node_rules_status> nodes;
  std::size_t skipped = 0;
  std::uint64_t revision = 0;  // the cluster's newest revision (0: none stored)
};
cluster_rules_statuses group_rules_statuses(const hash_fields& fields);

// What a node does with the cluster's newest rule file, given the revision it serves (0: none
// yet, as at start) and the SHA-256 of its own text.
enum class rules_sync_step {
  adopt,     // install the cluster's text here
  record,    // the same text: note the revision
  store,     // the cluster has none, or lost revisions this node serves (a failover): store ours
  nothing,
};
rules_sync_step plan_rules_sync(const cluster_rule_file& latest, std::uint64_t applied_revision,
                                std::string_view local_sha256, bool local_has_file);

}  // namespace callsign::server
