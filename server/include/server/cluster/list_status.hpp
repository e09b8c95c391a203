// Every node's list status as the other nodes read it (docs/cluster.md, "Lists"): one field per
// node and list in the Redis hash cs:lists:status, `<node>/<list>` -> compact JSON
// {"version","sha256","entries","loaded_at","last_error"}, so GET /v1/admin/lists can show drift.
// Pure functions, no I/O.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "crypto/result.hpp"
#include "server/lists/list_registry.hpp"

namespace callsign::server {

inline constexpr std::string_view list_status_key = "cs:lists:status";

struct node_list_status {
  std::string node;
  std::uint64_t version = 0;
  std::string sha256;          // empty: never loaded
  std::uint64_t entries = 0;
  std::int64_t loaded_at = 0;  // unix seconds, 0: never loaded
  std::string last_error;      // empty: the last attempt succeeded
  bool operator==(const node_list_status&) const = default;
};

std::string list_status_field(std::string_view node, list_id id);
// last_error is cut to 512 bytes, like the audit's.
std::string encode_node_list_status(const list_status& status);
// invalid_input for a field that is not `<node>/<known list>` or a value of another shape; the
// message never quotes either.
result<std::pair<list_id, node_list_status>> decode_node_list_status(std::string_view field, std::string_view json);

// Every node's status per list (indexed by list_id), nodes in name order. Fields that do not
// decode are left out and counted.
struct cluster_list_statuses {
  std::array<std::vector<node_list_status>, all_lists.size()> by_list;
  std::size_t skipped = 0;
};
cluster_list_statuses group_list_statuses(const std::vector<std::pair<std::string, std::string>>& fields);

}  // namespace callsign::server
