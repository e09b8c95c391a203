// [rules]: the rule file and the bot-score header (docs/rules.md).
#include <algorithm>

#include "config_toml.hpp"

namespace callsign::server::config_detail {

namespace {
// A header name as RFC 9110 allows it (a token), kept lower-case for matching.
bool valid_header_name(std::string_view name) {
  return !name.empty() && name.size() <= 64 && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
  });
}
}  // namespace

result<void> parse_rules_section(const toml::table& t, server_config& cfg, std::string_view src) {
  CALLSIGN_TRY(reject_unknown(t, "rules", {"file", "bot_score_header", "max_file_bytes"}, src));
  CALLSIGN_TRY(read_path(t, "rules", "file", cfg.rules.file, src));
  std::optional<std::string> header;
  CALLSIGN_TRY(read_string(t, "rules", "bot_score_header", header, src));
  if (header) {
    std::string lower = *header;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; });
    if (!valid_header_name(lower)) return config_error(src, "rules.bot_score_header", "must be a header name");
    cfg.rules.bot_score_header = std::move(lower);
  }
  std::int64_t max_bytes = static_cast<std::int64_t>(cfg.rules.max_file_bytes);
  CALLSIGN_TRY(read_integer(t, "rules", "max_file_bytes", 1024, 16 * 1024 * 1024, max_bytes, src));
  cfg.rules.max_file_bytes = static_cast<std::size_t>(max_bytes);
  return {};
}

}  // namespace callsign::server::config_detail
