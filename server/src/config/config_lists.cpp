// [lists] and its per-list tables [lists.open_proxies] ... [lists.exposed_passwords].
#include <array>
#include <filesystem>
#include <fstream>
#include <system_error>
#include <string>
#include <utility>

#include "config_toml.hpp"
#include "server/lists/list_fetch.hpp"
#include "server/lists/list_url.hpp"

namespace callsign::server::config_detail {
namespace {

// url and its companions (docs/lists.md, "URL sources"). Errors never quote the URL: it may
// carry a password.
result<void> parse_list_url_source(const toml::table& t, const std::string& section, list_source_config& list,
                                   std::string_view src) {
  CALLSIGN_TRY(read_string(t, section, "url", list.url, src));
  bool plain_http = false;
  CALLSIGN_TRY(read_bool(t, section, "allow_plain_http", plain_http, src));
  std::optional<std::string> sha256;
  CALLSIGN_TRY(read_string(t, section, "sha256", sha256, src));
  CALLSIGN_TRY(read_path(t, section, "ca_file", list.ca_file, src));
  std::int64_t max_bytes = 0;
  CALLSIGN_TRY(read_integer(t, section, "max_bytes", 1, std::int64_t{1} << 40, max_bytes, src));
  std::int64_t timeout = list.fetch_timeout.count();
  CALLSIGN_TRY(read_integer(t, section, "timeout_seconds", 1, 86'400, timeout, src));
  list.fetch_timeout = std::chrono::seconds(timeout);
  if (!list.url) {
    for (const char* key : {"allow_plain_http", "sha256", "max_bytes", "ca_file", "timeout_seconds"}) {
      if (t.contains(key)) return config_error(src, section + "." + key, "applies to a url source only; set url");
    }
    return {};
  }
  if (list.path) return config_error(src, section, "set either path or url, not both");
  auto url = parse_list_url(*list.url);
  if (!url) return config_error(src, section + ".url", url.error().message);
  if (!url->https && !plain_http) {
    return config_error(src, section + ".url",
                        "is plain http://, which anyone on the way can change; use https:// or set "
                        "allow_plain_http = true");
  }
  if (sha256) {
    auto parsed = parse_expected_sha256(*sha256);
    if (!parsed) return config_error(src, section + ".sha256", parsed.error().message);
    list.sha256 = std::move(parsed).value();
  }
  if (std::error_code ec; list.ca_file && (!std::filesystem::is_regular_file(*list.ca_file, ec) ||
                                           !std::ifstream(*list.ca_file, std::ios::binary).is_open())) {
    return config_error(src, section + ".ca_file", "is not a readable file");
  }
  if (max_bytes > 0) list.max_bytes = static_cast<std::uint64_t>(max_bytes);
  return {};
}

}  // namespace

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
    CALLSIGN_TRY(reject_unknown(*table, section,
                                {"path", "refresh_seconds", "url", "allow_plain_http", "sha256", "max_bytes", "ca_file",
                                 "timeout_seconds"},
                                src));
    CALLSIGN_TRY(read_path(*table, section, "path", list->path, src));
    std::int64_t seconds = list->refresh_interval.count();
    CALLSIGN_TRY(read_integer(*table, section, "refresh_seconds", 0, 7 * 86'400, seconds, src));
    list->refresh_interval = std::chrono::seconds(seconds);
    CALLSIGN_TRY(parse_list_url_source(*table, section, *list, src));
  }
  return {};
}

}  // namespace callsign::server::config_detail
