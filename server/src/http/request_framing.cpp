#include "server/http/request_framing.hpp"

#include <algorithm>
#include <array>
#include <string>
#include <vector>

#include "server/http/http_types.hpp"

namespace callsign::server {
namespace {

// Fields defined as comma-separated lists (RFC 9110 §5.3; Cookie as "; "-joined pairs): several
// lines mean one line joined in order, so they may repeat. Any other field callsignd could read
// must appear at most once.
constexpr std::array<std::string_view, 23> list_fields = {
    "accept",           "accept-charset", "accept-encoding", "accept-language",   "cache-control",
    "connection",       "cookie",         "forwarded",       "if-match",          "if-none-match",
    "pragma",           "prefer",         "te",              "trailer",           "upgrade",
    "via",              "warning",        "x-forwarded-for", "x-forwarded-proto", "sec-websocket-extensions",
    "sec-websocket-protocol", "baggage",  "tracestate"};

bool is_list_field(std::string_view name) noexcept {
  return std::any_of(list_fields.begin(), list_fields.end(),
                     [&](std::string_view field) { return ascii_iequals(field, name); });
}

std::string lower(std::string_view text) {
  std::string out(text);
  for (auto& c : out) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return out;
}

// The first single-value field that appears more than once, or nullopt.
std::optional<std::string> repeated_single_field(std::span<const header_view> fields) {
  if (fields.size() <= 32) {  // the usual request: a few fields, no allocation
    for (std::size_t i = 0; i < fields.size(); ++i) {
      for (std::size_t j = i + 1; j < fields.size(); ++j) {
        if (ascii_iequals(fields[i].name, fields[j].name) && !is_list_field(fields[i].name)) {
          return lower(fields[i].name);
        }
      }
    }
    return std::nullopt;
  }
  std::vector<std::string> names;
  names.reserve(fields.size());
  for (const auto& field : fields) names.push_back(lower(field.name));
  std::sort(names.begin(), names.end());
  for (std::size_t i = 1; i < names.size(); ++i) {
    if (names[i] == names[i - 1] && !is_list_field(names[i])) return names[i];
  }
  return std::nullopt;
}

bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }
bool is_hex(char c) noexcept { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

// RFC 3986 host [ ":" port ], the port empty or at most 65535: an IP literal in brackets, or a
// reg-name / IPv4 address made of unreserved, percent-encoded (%HH) and sub-delim characters.
// Empty is allowed (RFC 9112 §3.2).
bool valid_host_value(std::string_view value) noexcept {
  std::string_view host = value;
  std::string_view port;
  if (!host.empty() && host.front() == '[') {
    const auto close = host.find(']');
    if (close == std::string_view::npos || close < 3) return false;
    for (char c : host.substr(1, close - 1)) {
      const bool ok = is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' || c == '.';
      if (!ok) return false;
    }
    const auto rest = host.substr(close + 1);
    if (!rest.empty() && rest.front() != ':') return false;
    if (!rest.empty()) port = rest.substr(1);
    host = host.substr(0, close + 1);
  } else {
    const auto colon = host.find(':');
    if (colon != std::string_view::npos) {
      port = host.substr(colon + 1);
      host = host.substr(0, colon);
    }
    for (std::size_t i = 0; i < host.size(); ++i) {
      const char c = host[i];
      if (c == '%') {
        if (i + 2 >= host.size() || !is_hex(host[i + 1]) || !is_hex(host[i + 2])) return false;
        i += 2;
        continue;
      }
      const bool ok = is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                      std::string_view("-._~!$&'()*+,;=").find(c) != std::string_view::npos;
      if (!ok) return false;
    }
  }
  if (port.size() > 5 || !std::all_of(port.begin(), port.end(), is_digit)) return false;
  return port.empty() || std::stoul(std::string(port)) <= 65535;
}

}  // namespace

std::optional<std::size_t> header_block_end(std::string_view bytes) noexcept {
  const auto end = bytes.find("\r\n\r\n");
  if (end == std::string_view::npos) {
    return std::nullopt;
  }
  return end + 4;
}

bool has_obs_fold(std::string_view header_block) noexcept {
  // The request line cannot be folded; every later line that starts with SP or HTAB is one.
  for (auto at = header_block.find('\n'); at != std::string_view::npos && at + 1 < header_block.size();
       at = header_block.find('\n', at + 1)) {
    const char next = header_block[at + 1];
    if (next == ' ' || next == '\t') {
      return true;
    }
  }
  return false;
}

std::optional<std::string> request_header_problem(unsigned version, std::span<const header_view> fields,
                                                  bool obs_fold) {
  if (obs_fold) {
    return "obsolete line folding in a header is not accepted";
  }
  int transfer_encodings = 0;
  int content_lengths = 0;
  int hosts = 0;
  int authorizations = 0;
  bool chunked_only = true;
  for (const auto& field : fields) {
    if (ascii_iequals(field.name, "transfer-encoding")) {
      ++transfer_encodings;
      chunked_only = chunked_only && ascii_iequals(field.value, "chunked");
    } else if (ascii_iequals(field.name, "content-length")) {
      ++content_lengths;
    } else if (ascii_iequals(field.name, "host")) {
      ++hosts;
    } else if (ascii_iequals(field.name, "authorization")) {
      ++authorizations;
    }
  }
  if (transfer_encodings > 0) {
    if (version < 11) {
      return "Transfer-Encoding is not accepted in an HTTP/1.0 request";
    }
    if (transfer_encodings > 1 || !chunked_only) {
      return "the only accepted Transfer-Encoding is a single \"chunked\"";
    }
    if (content_lengths > 0) {
      return "a request may not carry both Transfer-Encoding and Content-Length";
    }
  }
  if (hosts > 1) {
    return "more than one Host header";
  }
  if (hosts == 0 && version >= 11) {
    return "an HTTP/1.1 request must carry a Host header";
  }
  if (authorizations > 1) {
    return "more than one Authorization header";
  }
  for (const auto& field : fields) {
    if (ascii_iequals(field.name, "host") && !valid_host_value(field.value)) {
      return "the Host header is not a valid host[:port]";
    }
  }
  if (auto repeated = repeated_single_field(fields)) {
    if (repeated->size() > 64) repeated->resize(64);
    return "more than one " + *repeated + " header (only list-valued fields may repeat)";
  }
  return std::nullopt;
}

void join_list_fields(std::vector<http_header>& headers) {
  // One pass: each line of a list field goes to its first line (found among the few list
  // fields seen so far), so thousands of lines of one field cost no more than thousands of fields.
  std::vector<http_header> joined;
  joined.reserve(headers.size());
  std::vector<std::size_t> lists;  // indexes in `joined` of the list fields met so far
  for (auto& header : headers) {
    if (!is_list_field(header.name)) {
      joined.push_back(std::move(header));
      continue;
    }
    const auto first = std::find_if(lists.begin(), lists.end(), [&](std::size_t i) { return joined[i].name == header.name; });
    if (first == lists.end()) {
      lists.push_back(joined.size());
      joined.push_back(std::move(header));
      continue;
    }
    // Empty elements are ignored (RFC 9110 §5.6.1): an empty line adds no separator.
    std::string& value = joined[*first].value;
    if (header.value.empty()) continue;
    if (!value.empty()) value += header.name == "cookie" ? "; " : ", ";
    value += header.value;
  }
  headers = std::move(joined);
}

}  // namespace callsign::server
