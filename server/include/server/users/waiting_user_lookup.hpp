// Looking users up from code that may wait (the worker pool: stream authentication and the
// step-boundary token table): every find is started at once, so a networked directory carries
// them pipelined on one connection, and the caller waits for all of them. Never call it from an
// I/O thread or from a storage completion.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "storage/user_directory.hpp"

namespace callsign::server {

std::vector<result<std::optional<storage::stored_user>>> find_users_waiting(storage::user_directory& directory,
                                                                           const std::vector<std::string>& ids);

}  // namespace callsign::server
