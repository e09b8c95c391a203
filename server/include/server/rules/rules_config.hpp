// [rules]: where the login rules live and which header carries the bot score (docs/rules.md).
#pragma once

#include <filesystem>
#include <cstddef>
#include <optional>
#include <string>

namespace callsign::server {

struct rules_config {
  // The rule file (TOML, docs/rules.md). Unset: <data_dir>/rules.toml, and no file there means
  // no rules until an admin PUTs some. A configured file must exist at start.
  std::optional<std::filesystem::path> file;
  // The request header a bot detector in front sets to a score 1..99 (lower-case name).
  std::string bot_score_header = "x-bot-score";
  // Largest rule file accepted at load and by PUT /v1/admin/rules (whose body is also held to
  // limits.body_bytes, 64 KiB by default).
  std::size_t max_file_bytes = 256 * 1024;
};

}  // namespace callsign::server
