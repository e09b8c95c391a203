#include "field_table.hpp"

#include <array>

namespace callsign::rules {
namespace {

using enum value_type;
constexpr std::array<field_info, field_count> fields{{
    {field::ip_src, "ip.src", ip, true, true},
    {field::http_request_uri_path, "http.request.uri.path", bytes, true, false},
    {field::http_request_method, "http.request.method", bytes, true, false},
    {field::http_host, "http.host", bytes, true, false},
    {field::http_user_agent, "http.user_agent", bytes, true, false},
    {field::http_request_headers, "http.request.headers", bytes, true, false},
    {field::bot_score, "bot.score", integer, true, false},
    {field::login_username_present, "login.username_present", boolean, true, true},
    {field::login_exposed_credential, "login.exposed_credential", boolean, true, false},
    {field::login_exposed_password, "login.exposed_password", boolean, true, false},
    {field::device_managed, "device.managed", boolean, true, false},
    {field::device_serial_present, "device.serial_present", boolean, true, false},
    {field::rate_login_failures_ip, "rate.login_failures.ip", integer, true, false},
    {field::rate_login_failures_username, "rate.login_failures.username", integer, true, false},
    {field::login_success, "login.success", boolean, false, true},
    {field::http_response_code, "http.response.code", integer, false, true},
}};

constexpr bool table_in_enum_order() {
  for (std::size_t i = 0; i < fields.size(); ++i) {
    if (static_cast<std::size_t>(fields[i].id) != i) return false;
  }
  return true;
}
static_assert(table_in_enum_order());

}  // namespace

const field_info& info_of(field f) noexcept { return fields[static_cast<std::size_t>(f)]; }

std::string_view field_name(field f) noexcept {
  const auto i = static_cast<std::size_t>(f);
  return i < fields.size() ? fields[i].name : std::string_view{"?"};
}

std::optional<field> field_by_name(std::string_view name) noexcept {
  for (const auto& f : fields) {
    if (f.name == name) return f.id;
  }
  return std::nullopt;
}

std::string_view type_phrase(value_type t) noexcept {
  switch (t) {
    case value_type::boolean: return "a boolean";
    case value_type::integer: return "an integer";
    case value_type::bytes: return "a string";
    case value_type::ip: return "an IP address";
  }
  return "a value";
}

}  // namespace callsign::rules
