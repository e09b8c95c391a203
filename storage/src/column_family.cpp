#include "storage/column_family.hpp"

// "default" is rocksdb::kDefaultColumnFamilyName, spelled out so the table is constexpr.

namespace callsign::storage {

namespace {
constexpr std::array<std::string_view, column_family_count> names = {
    "default", "meta", "users", "user_emails", "authenticators",
    "replay_marks", "counters", "audit", "audit_by_user", "audit_checkpoints", "state_log",
};
constexpr std::array<column_family, column_family_count> families = {
    column_family::default_cf,     column_family::meta,         column_family::users,
    column_family::user_emails,    column_family::authenticators, column_family::replay_marks,
    column_family::counters,       column_family::audit,        column_family::audit_by_user,
    column_family::audit_checkpoints, column_family::state_log,
};
}  // namespace

std::string_view column_family_name(column_family cf) noexcept {
  return names[static_cast<std::size_t>(cf)];
}

const std::array<column_family, column_family_count>& all_column_families() noexcept {
  return families;
}

}  // namespace callsign::storage
