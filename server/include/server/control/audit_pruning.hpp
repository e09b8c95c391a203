// Audit retention in the server (docs/audit.md, "Retention"): `callsign audit prune` over the
// control socket, and [audit] retention_seconds on a timer. Both prune through the running
// writer (storage/audit_retention.hpp) and log what they removed.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>

#include "crypto/result.hpp"
#include "server/app_context.hpp"
#include "storage/audit_retention.hpp"

namespace callsign::server {

inline constexpr std::string_view retention_actor_id = "retention";

// Prunes the entries signed before `cutoff` (unix seconds). Blocks on the writer's commit and
// on RocksDB: never on an I/O thread. Logs the outcome (never an entry's content).
// `should_stop`, asked between stretches, ends a long prune early (shutdown).
result<storage::audit_prune_report> prune_audit(app_context& app, std::int64_t cutoff,
                                                const storage::audit_prune_actor& actor,
                                                const std::function<bool()>& should_stop = {});

// How often [audit] retention_seconds is applied: a tenth of it, from 1 s to an hour.
std::chrono::seconds retention_interval(std::int64_t retention_seconds) noexcept;

}  // namespace callsign::server
