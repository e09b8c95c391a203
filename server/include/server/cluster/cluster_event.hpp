// What nodes tell each other on the Redis channel cs:events (docs/cluster.md, "Events"): a
// verify (for dashboards connected elsewhere), an authenticator's new state, a block or its end,
// a list reload, a changed user or enrollment, a new cluster rule file. Small JSON objects; never a
// code, secret or key (a rules event carries the revision and SHA-256, never the rule text).
// Block, unblock, user and authenticator events are published by the Redis Functions
// themselves (shared_state/), the others by the node that acted.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "crypto/result.hpp"
#include "storage/blocks.hpp"

namespace callsign::server {

enum class cluster_event_kind : std::uint8_t {
  verified,             // {"type":"verified","node","user","agent","method","at"}
  authenticator_state,  // {"type":"authenticator_state","node","user","state","at"}
  block,                // {"type":"block","key","until_ms","created_ms","rule"}
  unblock,              // {"type":"unblock","key"}
  lists_reload,         // {"type":"lists_reload","node","list"}
  user_changed,         // {"type":"user","id","version"}
  authenticator_changed,  // {"type":"authenticator","user","version"}
  rules_installed,      // {"type":"rules","node","revision","sha256"}: cs:rules holds the text
};

// A plain value; fields not used by a kind stay empty.
struct cluster_event {
  cluster_event_kind kind = cluster_event_kind::verified;
  std::string node;  // the sender, for the kinds a node publishes
  std::string user;
  std::string agent;
  std::string method;
  std::string state;
  std::string list;
  std::int64_t at = 0;
  std::uint64_t version = 0;  // user, authenticator: the record's; rules: the cluster revision
  std::string sha256;         // rules: of the rule file's text
  storage::block_entry block;  // block: all fields; unblock: key
};

inline constexpr std::string_view cluster_event_channel = "cs:events";

std::string encode_cluster_event(const cluster_event& event);
// invalid_input for anything else than the shapes above (unknown type, missing or mistyped
// member, more than 64 KiB); the message never quotes the input.
result<cluster_event> decode_cluster_event(std::string_view json);

}  // namespace callsign::server
