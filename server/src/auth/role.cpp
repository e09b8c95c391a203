#include "server/auth/role.hpp"

#include <array>
#include <utility>

namespace callsign::server {
namespace {

constexpr std::array<std::pair<role, std::string_view>, 4> names{{
    {role::customer, "customer"},
    {role::agent, "agent"},
    {role::service, "service"},
    {role::admin, "admin"},
}};

}  // namespace

bool valid_subject(std::string_view subject) noexcept {
  if (subject.empty() || subject.size() > 128) return false;
  for (const char c : subject) {
    if (c < '!' || c > '~') return false;
  }
  return true;
}

std::optional<role> parse_role(std::string_view name) noexcept {
  for (const auto& [value, text] : names) {
    if (text == name) return value;
  }
  return std::nullopt;
}

std::string_view role_name(role r) noexcept {
  for (const auto& [value, text] : names) {
    if (value == r) return text;
  }
  return "unknown";
}

}  // namespace callsign::server
