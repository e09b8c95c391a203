#include "server/http/response_bytes.hpp"

#include <array>
#include <charconv>

#include "server/http/problem.hpp"

namespace callsign::server {
namespace {

void append_header(std::string& out, std::string_view name, std::string_view value) {
  out.append(name);
  out.append(": ");
  const std::size_t start = out.size();
  out.append(value);
  for (std::size_t i = start; i < out.size(); ++i) {
    const auto c = static_cast<unsigned char>(out[i]);
    if ((c < 0x20 && c != '\t') || c == 0x7f) out[i] = ' ';
  }
  out.append("\r\n");
}

void append_number(std::string& out, std::size_t value) {
  std::array<char, 24> digits{};
  const auto end = std::to_chars(digits.data(), digits.data() + digits.size(), value).ptr;
  out.append(digits.data(), end);
}

// Whether a route header named `name` appears at or after `from`: then the earlier one (or the
// default) gives way.
bool named_later(const std::vector<http_header>& headers, std::size_t from, std::string_view name) noexcept {
  for (std::size_t i = from; i < headers.size(); ++i) {
    if (ascii_iequals(headers[i].name, name)) return true;
  }
  return false;
}

}  // namespace

void serialize_response(const http_response& response, const response_framing& framing, std::string& out) {
  out.clear();
  const unsigned status = response.status >= 100 && response.status <= 999 ? response.status : 500;
  out.append(framing.version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ");
  append_number(out, status);
  out.push_back(' ');
  out.append(reason_phrase(status));
  out.append("\r\n");

  const auto& extra = response.headers;
  const auto add_default = [&](std::string_view name, std::string_view value) {
    if (!value.empty() && !named_later(extra, 0, name)) append_header(out, name, value);
  };
  add_default("Server", "callsign");
  add_default("Content-Type", response.content_type);
  add_default("Cache-Control", "no-store");
  add_default("X-Content-Type-Options", "nosniff");
  add_default("X-Request-Id", framing.request_id);
  for (std::size_t i = 0; i < extra.size(); ++i) {
    const auto& h = extra[i];
    if (!is_http_token(h.name) || ascii_iequals(h.name, "content-length") ||
        ascii_iequals(h.name, "connection") || ascii_iequals(h.name, "transfer-encoding")) {
      continue;  // framing is ours alone
    }
    if (named_later(extra, i + 1, h.name)) continue;
    append_header(out, h.name, h.value);
  }
  if (framing.version == 10) {
    if (framing.keep_alive) append_header(out, "Connection", "keep-alive");
  } else if (!framing.keep_alive) {
    append_header(out, "Connection", "close");
  }
  const bool bodiless_status = status < 200 || status == 204 || status == 304;
  if (!bodiless_status) {
    out.append("Content-Length: ");
    append_number(out, response.body.size());
    out.append("\r\n");
  }
  out.append("\r\n");
  if (!framing.head && !bodiless_status) out.append(response.body);
}

}  // namespace callsign::server
