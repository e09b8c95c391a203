// Request body limits by route: PUT /v1/admin/lists/{name} carries a whole list file and may
// use lists.max_upload_bytes; every other request keeps limits.body_bytes.
#pragma once

#include <cstddef>
#include <string_view>

#include "server/config.hpp"

namespace callsign::server {

bool is_list_upload(std::string_view method, std::string_view target) noexcept;

// The largest body the session layer may read before routing (it learns the route only after
// the header): max(limits.body_bytes, lists.max_upload_bytes).
std::size_t largest_body_limit(const server_config& config) noexcept;

std::size_t request_body_limit(const server_config& config, std::string_view method, std::string_view target) noexcept;

}  // namespace callsign::server
