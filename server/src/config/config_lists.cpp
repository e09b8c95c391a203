// [lists] and its per-list tables [lists.open_proxies] ... [lists.exposed_passwords].
#include <array>
#include <string>
#include <utility>

#include "config_toml.hpp"

namespace callsign::server::config_detail {

result<void> parse_lists_section(const toml::table& t, server_config& cfg, std::string_view src) {
  CALLSIGN_TRY(reject_unknown(t, "lists", {"max_upload_bytes", "max_text_bytes", "upload_min_bytes_per_second",
                                           "open_proxies", "managed_devices", "exposed_credentials",
                                           "exposed_passwords"}, src));
  auto upload = static_cast<std::int64_t>(cfg.lists.max_upload_bytes);
  CALLSIGN_TRY(read_integer(t, "lists", "max_upload_bytes", 1024, std::int64_t{1} << 40, upload, src));
  cfg.lists.max_upload_bytes = static_cast<std::size_t>(upload);
  auto text = static_cast<std::int64_t>(cfg.lists.max_text_bytes);
  CALLSIGN_TRY(read_integer(t, "lists", "max_text_bytes", 1024, std::int64_t{1} << 40, text, src));
  cfg.lists.max_text_bytes = static_cast<std::size_t>(text);
  auto rate = static_cast<std::int64_t>(cfg.lists.upload_min_bytes_per_second);
  CALLSIGN_TRY(read_integer(t, "lists", "upload_min_bytes_per_second", 0, std::int64_t{1} << 40, rate, src));
  cfg.lists.upload_min_bytes_per_second = static_cast<std::uint64_t>(rate);
  const std::array<std::pair<std::string_view, list_source_config*>, 4> lists{{
      {"open_proxies", &cfg.lists.open_proxies},
      {"managed_devices", &cfg.lists.managed_devices},
      {"exposed_credentials", &cfg.lists.exposed_credentials},
      {"exposed_passwords", &cfg.lists.exposed_passwords},
  }};
  for (const auto& [name, list] : lists) {
    const toml::node* node = t.get(name);
    if (node == nullptr) continue;
    const std::string section = "lists." + std::string(name);
    const toml::table* table = node->as_table();
    if (table == nullptr) return config_error(src, section, "must be a table");
    CALLSIGN_TRY(reject_unknown(*table, section, {"path", "refresh_seconds"}, src));
    CALLSIGN_TRY(read_path(*table, section, "path", list->path, src));
    std::int64_t seconds = list->refresh_interval.count();
    CALLSIGN_TRY(read_integer(*table, section, "refresh_seconds", 0, 7 * 86'400, seconds, src));
    list->refresh_interval = std::chrono::seconds(seconds);
  }
  return {};
}

}  // namespace callsign::server::config_detail
