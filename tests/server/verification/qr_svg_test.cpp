#include "server/verification/qr_svg.hpp"

#include <boost/test/unit_test.hpp>
#include <cstdio>
#include <string>
#include <vector>

using namespace callsign;

namespace {

// Rebuilds the module grid (quiet zone included) from the single path's "MxyhNv1h-Nz" runs.
struct drawing {
  int size = 0;
  std::vector<std::vector<bool>> dark;
};

drawing parse_svg(const std::string& svg) {
  drawing out;
  int view_w = 0;
  int view_h = 0;
  const auto view_box = svg.find("viewBox=\"0 0 ");
  BOOST_TEST_REQUIRE(view_box != std::string::npos);
  BOOST_TEST_REQUIRE(std::sscanf(svg.c_str() + view_box, "viewBox=\"0 0 %d %d\"", &view_w, &view_h) == 2);
  BOOST_TEST_REQUIRE(view_w == view_h);
  out.size = view_w;
  out.dark.assign(static_cast<std::size_t>(view_w), std::vector<bool>(static_cast<std::size_t>(view_w), false));

  const auto d_begin = svg.find(" d=\"");
  BOOST_TEST_REQUIRE(d_begin != std::string::npos);
  const auto d_end = svg.find('"', d_begin + 4);
  const std::string d = svg.substr(d_begin + 4, d_end - d_begin - 4);
  std::size_t pos = 0;
  while (pos < d.size()) {
    int x = 0;
    int y = 0;
    int n = 0;
    int back = 0;
    int consumed = 0;
    BOOST_TEST_REQUIRE(std::sscanf(d.c_str() + pos, "M%d %dh%dv1h-%dz%n", &x, &y, &n, &back, &consumed) == 4);
    BOOST_TEST_REQUIRE(n == back);
    BOOST_TEST_REQUIRE(n > 0);
    for (int i = 0; i < n; ++i) {
      BOOST_TEST_REQUIRE(x + i < out.size);
      BOOST_TEST_REQUIRE(y < out.size);
      out.dark[static_cast<std::size_t>(y)][static_cast<std::size_t>(x + i)] = true;
    }
    pos += static_cast<std::size_t>(consumed);
  }
  return out;
}

// The 7x7 finder pattern: dark ring, light ring, dark 3x3 centre.
void expect_finder_at(const drawing& grid, int left, int top) {
  for (int dy = 0; dy < 7; ++dy) {
    for (int dx = 0; dx < 7; ++dx) {
      const bool ring = dx == 0 || dy == 0 || dx == 6 || dy == 6;
      const bool centre = dx >= 2 && dx <= 4 && dy >= 2 && dy <= 4;
      const bool is_dark = grid.dark[static_cast<std::size_t>(top + dy)][static_cast<std::size_t>(left + dx)];
      BOOST_TEST(is_dark == (ring || centre), "module " << left + dx << "," << top + dy);
    }
  }
}

void expect_quiet_zone(const drawing& grid) {
  for (int y = 0; y < grid.size; ++y) {
    for (int x = 0; x < grid.size; ++x) {
      if (x < 4 || y < 4 || x >= grid.size - 4 || y >= grid.size - 4) {
        BOOST_TEST(!grid.dark[static_cast<std::size_t>(y)][static_cast<std::size_t>(x)]);
      }
    }
  }
}

void expect_symbol(const std::string& text, int modules) {
  const auto svg = server::qr_svg(text);
  BOOST_TEST_REQUIRE(svg.has_value());
  BOOST_TEST(svg->starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
  BOOST_TEST(svg->ends_with("</svg>"));
  BOOST_TEST(svg->find("shape-rendering=\"crispEdges\"") != std::string::npos);
  const drawing grid = parse_svg(*svg);
  BOOST_TEST(grid.size == modules + 8);
  expect_quiet_zone(grid);
  expect_finder_at(grid, 4, 4);
  expect_finder_at(grid, 4 + modules - 7, 4);
  expect_finder_at(grid, 4, 4 + modules - 7);
  // Timing pattern on row 6 between the top finders alternates dark/light.
  for (int x = 8; x < modules - 8; ++x) {
    BOOST_TEST(grid.dark[4 + 6][static_cast<std::size_t>(4 + x)] == (x % 2 == 0));
  }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(qr_svg_tests)

// Level M byte capacities: version 1 holds 14 bytes, 3 holds 42, 4 holds 62, 40 holds 2331.
BOOST_AUTO_TEST_CASE(picks_the_smallest_version_and_draws_finders_and_quiet_zone) {
  expect_symbol("hello", 21);                  // version 1
  expect_symbol(std::string(42, 'a'), 29);     // version 3, full
  expect_symbol(std::string(43, 'a'), 33);     // version 4
  expect_symbol(std::string(2331, 'x'), 177);  // version 40, full
}

BOOST_AUTO_TEST_CASE(a_typical_otpauth_uri_is_small) {
  const std::string uri =
      "otpauth://totp/callsign:user-42?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=callsign&algorithm=SHA1"
      "&digits=6&period=30";
  const auto svg = server::qr_svg(uri);
  BOOST_TEST_REQUIRE(svg.has_value());
  BOOST_TEST(svg->size() < 8000U);
  // One path only: the picture is a background rectangle plus a single path element.
  BOOST_TEST(svg->find("<path") == svg->rfind("<path"));
  BOOST_TEST(svg->find(uri) == std::string::npos);
}

BOOST_AUTO_TEST_CASE(binary_and_utf8_bytes_are_encoded) {
  BOOST_TEST(server::qr_svg(std::string("a\0b", 3)).has_value());
  BOOST_TEST(server::qr_svg("zo\xc3\xab").has_value());
}

BOOST_AUTO_TEST_CASE(refuses_empty_and_over_long_input_without_echoing_it) {
  const auto empty = server::qr_svg("");
  BOOST_TEST_REQUIRE(!empty.has_value());
  BOOST_TEST((empty.error().kind == error_kind::invalid_input));

  const std::string too_long(2332, 's');
  const auto rejected = server::qr_svg(too_long);
  BOOST_TEST_REQUIRE(!rejected.has_value());
  BOOST_TEST((rejected.error().kind == error_kind::invalid_input));
  BOOST_TEST(rejected.error().message.find("sss") == std::string::npos);
  BOOST_TEST(!server::qr_svg(std::string(100000, 's')).has_value());
}

BOOST_AUTO_TEST_SUITE_END()
