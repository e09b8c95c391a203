#include "server/rules/rule_request.hpp"

#include <algorithm>
#include <charconv>

namespace callsign::server {

namespace {

std::string lower_ascii(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; });
  return out;
}

result<void> read_member(const json_body& body, std::string_view name, std::size_t max, std::string& out) {
  auto value = body.optional_string(name, max);
  if (!value) return value.error();
  if (*value) out = std::move(**value);
  return {};
}

}  // namespace

std::optional<std::int64_t> parse_bot_score(std::string_view text) noexcept {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  std::int64_t score = 0;
  const auto* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, score);
  if (text.empty() || ec != std::errc{} || ptr != end || score < 1 || score > 99) return std::nullopt;
  return score;
}

result<rule_request> decode_rule_request(const json_body& body) {
  rule_request out;
  if (auto r = read_member(body, "path", 8192, out.path); !r) return r.error();
  if (auto r = read_member(body, "method", 32, out.method); !r) return r.error();
  if (auto r = read_member(body, "host", 512, out.host); !r) return r.error();
  if (auto r = read_member(body, "user_agent", max_rule_header_value, out.user_agent); !r) return r.error();
  auto headers = body.optional_string_map("headers", max_rule_headers, 128, max_rule_header_value, true);
  if (!headers) return headers.error();
  if (*headers) {
    // What a front-end could have received as a header: a token for a name (RFC 9110 §5.1), a
    // value without control characters but HTAB (§5.5). The detail names neither.
    for (const auto& [name, value] : **headers) {
      if (!is_http_token(name)) {
        return make_error(error_kind::invalid_input, "member 'headers' holds a name that is not an HTTP field name");
      }
      const bool clean = std::all_of(value.begin(), value.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return u == '\t' || (u >= 0x20 && u != 0x7f);
      });
      if (!clean) {
        return make_error(error_kind::invalid_input, "member 'headers' holds a value with a control character");
      }
    }
    out.headers = std::move(**headers);
  }
  auto score = body.optional_integer("bot_score", 1, 99);
  if (!score) return score.error();
  out.bot_score = *score;
  return out;
}

rule_request gate_rule_request(const http_request& request, std::string_view bot_score_header) {
  rule_request out;
  if (auto uri = request.header("x-original-uri")) {
    out.path = std::string(uri->substr(0, uri->find('?')));
  }
  if (auto method = request.header("x-original-method")) out.method = std::string(*method);
  if (auto host = request.header("host")) out.host = std::string(*host);
  if (auto agent = request.header("user-agent")) out.user_agent = std::string(*agent);
  for (const auto& header : request.headers) {
    if (out.headers.size() == max_rule_headers) break;
    auto name = lower_ascii(header.name);
    auto same = std::find_if(out.headers.begin(), out.headers.end(), [&](const auto& h) { return h.first == name; });
    if (same == out.headers.end()) {
      out.headers.emplace_back(std::move(name), std::string(header.value));
    } else if (same->second.size() + header.value.size() + 2 <= max_rule_header_value) {
      same->second += ", ";
      same->second += header.value;
    }
  }
  if (auto score = request.header(bot_score_header)) out.bot_score = parse_bot_score(*score);
  return out;
}

rules::request_fields rule_fields_of(const rule_request& request) {
  rules::request_fields fields;
  fields.uri_path = request.path;
  fields.method = request.method;
  fields.host = request.host;
  fields.user_agent = request.user_agent;
  fields.headers.reserve(request.headers.size());
  for (const auto& [name, value] : request.headers) fields.headers.push_back({name, value});
  fields.bot_score = request.bot_score;
  return fields;
}

}  // namespace callsign::server
