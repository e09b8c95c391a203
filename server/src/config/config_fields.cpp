#include "config_toml.hpp"

namespace callsign::server::config_detail {

error config_error(std::string_view source, std::string_view key, std::string_view problem) {
  return make_error(error_kind::invalid_input,
                    std::string(source) + ": " + std::string(key) + " " + std::string(problem));
}

// Reads an integer key within [lo, hi]; absent keys keep `out`.
result<void> read_integer(const toml::table& table, std::string_view section, std::string_view name,
                          std::int64_t lo, std::int64_t hi, std::int64_t& out, std::string_view source) {
  const auto* node = table.get(name);
  if (node == nullptr) {
    return {};
  }
  std::string key = std::string(section) + "." + std::string(name);
  auto value = node->value<std::int64_t>();
  if (!node->is_integer() || !value) {
    return config_error(source, key, "must be an integer");
  }
  if (*value < lo || *value > hi) {
    return config_error(source, key, "must be between " + std::to_string(lo) + " and " + std::to_string(hi));
  }
  out = *value;
  return {};
}

result<void> read_string(const toml::table& table, std::string_view section, std::string_view name,
                         std::optional<std::string>& out, std::string_view source) {
  const auto* node = table.get(name);
  if (node == nullptr) {
    return {};
  }
  if (!node->is_string()) {
    return config_error(source, std::string(section) + "." + std::string(name), "must be a string");
  }
  out = *node->value<std::string>();
  return {};
}

result<void> read_bool(const toml::table& table, std::string_view section, std::string_view name, bool& out,
                       std::string_view source) {
  const auto* node = table.get(name);
  if (node == nullptr) {
    return {};
  }
  if (!node->is_boolean()) {
    return config_error(source, std::string(section) + "." + std::string(name), "must be true or false");
  }
  out = *node->value<bool>();
  return {};
}

result<void> reject_unknown(const toml::table& table, std::string_view section,
                            const std::set<std::string_view>& known, std::string_view source) {
  for (const auto& [key, node] : table) {
    if (known.count(key.str()) == 0) {
      std::string name = section.empty() ? std::string(key.str()) : std::string(section) + "." + std::string(key.str());
      return config_error(source, name, "is not a known setting");
    }
  }
  return {};
}

const toml::table* section_table(const toml::table& root, std::string_view name) {
  const auto* node = root.get(name);
  return node == nullptr ? nullptr : node->as_table();
}


result<void> read_path(const toml::table& t, std::string_view section, std::string_view name,
                       std::optional<std::filesystem::path>& out, std::string_view src) {
  std::optional<std::string> text;
  CALLSIGN_TRY(read_string(t, section, name, text, src));
  if (text && !text->empty()) {
    out = *text;
  }
  return {};
}


}  // namespace callsign::server::config_detail
