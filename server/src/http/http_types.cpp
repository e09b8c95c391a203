#include "server/http/http_types.hpp"

#include <algorithm>
#include <array>

namespace callsign::server {

bool ascii_iequals(std::string_view a, std::string_view b) noexcept {
  const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [&](char x, char y) { return lower(x) == lower(y); });
}

bool is_http_token(std::string_view text) noexcept {
  if (text.empty()) return false;
  constexpr std::string_view specials = "!#$%&'*+-.^_`|~";
  return std::all_of(text.begin(), text.end(), [&](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           specials.find(c) != std::string_view::npos;
  });
}

namespace {

constexpr std::array<std::pair<http_method, std::string_view>, 7> method_names = {{
    {http_method::get, "GET"},
    {http_method::head, "HEAD"},
    {http_method::post, "POST"},
    {http_method::put, "PUT"},
    {http_method::patch, "PATCH"},
    {http_method::delete_, "DELETE"},
    {http_method::options, "OPTIONS"},
}};
}  // namespace

http_method parse_http_method(std::string_view text) noexcept {
  for (const auto& [method, name] : method_names) {
    if (name == text) {
      return method;
    }
  }
  return http_method::other;
}

std::string_view http_method_name(http_method method) noexcept {
  for (const auto& [m, name] : method_names) {
    if (m == method) {
      return name;
    }
  }
  return "OTHER";
}

std::optional<std::string_view> http_request::header(std::string_view name) const {
  for (const auto& h : headers) {
    if (ascii_iequals(h.name, name)) {
      return std::string_view(h.value);
    }
  }
  return std::nullopt;
}

std::string http_request::media_type() const {
  auto type = header("content-type").value_or("");
  type = type.substr(0, type.find(';'));
  while (!type.empty() && (type.front() == ' ' || type.front() == '\t')) type.remove_prefix(1);
  while (!type.empty() && (type.back() == ' ' || type.back() == '\t')) type.remove_suffix(1);
  std::string lowered(type);
  for (auto& c : lowered) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return lowered;
}

std::optional<std::string_view> http_request::path_param(std::string_view name) const {
  for (const auto& [key, value] : path_params) {
    if (key == name) {
      return std::string_view(value);
    }
  }
  return std::nullopt;
}

}  // namespace callsign::server
