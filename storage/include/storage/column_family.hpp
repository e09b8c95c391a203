// The fixed set of RocksDB column families. Order is stable: it indexes handle arrays.
#pragma once

#include <array>
#include <cstddef>
#include <string_view>

namespace callsign::storage {

enum class column_family : std::size_t {
  default_cf = 0,
  meta,            // schema version, node facts
  users,           // user id -> user record
  user_emails,     // normalized email -> user id
  authenticators,  // user id -> sealed authenticator secret
  replay_marks,    // (user, method) -> last accepted step
  counters,        // sliding-window counters and blocks
  audit,           // sequence -> hash-chained audit entry (append-only)
  audit_by_user,   // user id 0x00 sequence -> "" (index for per-user trails)
  audit_checkpoints,  // sequence -> signed checkpoint
  state_log,       // group number -> that group's replay-mark and counter writes (storage/state_log.hpp)
};

inline constexpr std::size_t column_family_count = 11;

std::string_view column_family_name(column_family cf) noexcept;

const std::array<column_family, column_family_count>& all_column_families() noexcept;

}  // namespace callsign::storage
