#include "server/verification/qr_svg.hpp"

#include <qrencode.h>

#include <cerrno>
#include <cstddef>
#include <memory>

namespace callsign::server {
namespace {

struct qrcode_deleter {
  void operator()(QRcode* code) const noexcept { QRcode_free(code); }
};

constexpr int quiet_zone = 4;  // modules of light margin the QR specification requires

// libqrencode sets bit 0 of each module byte for dark; the other bits describe its role.
bool dark(const QRcode& code, int x, int y) noexcept {
  const std::size_t index =
      static_cast<std::size_t>(y) * static_cast<std::size_t>(code.width) + static_cast<std::size_t>(x);
  return (code.data[index] & 1U) != 0;
}

// Each horizontal run of dark modules becomes one rectangle "M x y h n v 1 h -n z": about a
// third of the size of one square per module, and still exact unit cells.
void append_runs(std::string& out, const QRcode& code) {
  for (int y = 0; y < code.width; ++y) {
    int x = 0;
    while (x < code.width) {
      if (!dark(code, x, y)) {
        ++x;
        continue;
      }
      const int start = x;
      while (x < code.width && dark(code, x, y)) ++x;
      const std::string run = std::to_string(x - start);
      out += 'M';
      out += std::to_string(start + quiet_zone);
      out += ' ';
      out += std::to_string(y + quiet_zone);
      out += 'h';
      out += run;
      out += "v1h-";
      out += run;
      out += 'z';
    }
  }
}

}  // namespace

result<std::string> qr_svg(std::string_view text) {
  if (text.empty()) return make_error(error_kind::invalid_input, "nothing to encode as a QR code");
  // Version 40 at level M holds 2331 bytes; a longer input cannot be drawn at all.
  constexpr std::size_t max_bytes = 2331;
  if (text.size() > max_bytes) {
    return make_error(error_kind::invalid_input, "text is too long for a QR code (at most 2331 bytes)");
  }
  errno = 0;
  const std::unique_ptr<QRcode, qrcode_deleter> code(QRcode_encodeData(
      static_cast<int>(text.size()), reinterpret_cast<const unsigned char*>(text.data()), 0, QR_ECLEVEL_M));
  if (!code) {
    if (errno == ERANGE) {
      return make_error(error_kind::invalid_input, "text is too long for a QR code (at most 2331 bytes)");
    }
    return make_error(error_kind::internal, "QR encoding failed");
  }

  const std::string size = std::to_string(code->width + 2 * quiet_zone);
  std::string svg;
  svg.reserve(256 + static_cast<std::size_t>(code->width) * static_cast<std::size_t>(code->width));
  svg += R"(<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 )";
  svg += size + ' ' + size;
  svg += R"(" shape-rendering="crispEdges"><rect width=")";
  svg += size;
  svg += R"(" height=")";
  svg += size;
  svg += R"(" fill="#fff"/><path fill="#000" d=")";
  append_runs(svg, *code);
  svg += R"("/></svg>)";
  return svg;
}

}  // namespace callsign::server
