#include "server/http/request_framing.hpp"

#include "server/http/http_types.hpp"

namespace callsign::server {

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
  return std::nullopt;
}

}  // namespace callsign::server
