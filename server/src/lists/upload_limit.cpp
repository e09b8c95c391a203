#include "server/lists/upload_limit.hpp"

#include <algorithm>

namespace callsign::server {

bool is_list_upload(std::string_view method, std::string_view target) noexcept {
  constexpr std::string_view prefix = "/v1/admin/lists/";
  const std::string_view path = target.substr(0, target.find('?'));
  if (method != "PUT" || !path.starts_with(prefix)) return false;
  const std::string_view name = path.substr(prefix.size());
  return !name.empty() && name.find('/') == std::string_view::npos;
}

std::size_t largest_body_limit(const server_config& config) noexcept {
  return std::max(config.body_limit, config.lists.max_upload_bytes);
}

std::size_t request_body_limit(const server_config& config, std::string_view method, std::string_view target) noexcept {
  return is_list_upload(method, target) ? config.lists.max_upload_bytes : config.body_limit;
}

}  // namespace callsign::server
