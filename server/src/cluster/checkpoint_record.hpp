// The record a node keeps under its id in cs:audit:latest (docs/audit.md, "Several nodes"):
// its signed checkpoint as compact JSON. Private to the checkpoint exchange.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "storage/audit_checkpoint.hpp"

namespace callsign::server {

// {"node":..,"seq":..,"head":hex,"key_version":..,"sig":hex,"time":..}; `node` must be a node id.
std::string encode_checkpoint_record(std::string_view node, const storage::audit_checkpoint& c);

// The checkpoint a record holds, when it is well formed and names `node`. The signature is
// not checked here.
std::optional<storage::audit_checkpoint> parse_checkpoint_record(std::string_view node, std::string_view text);

}  // namespace callsign::server
