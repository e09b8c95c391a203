#include <algorithm>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <arpa/inet.h>

#include "lists_test_support.hpp"
#include "storage/lists/ip_set_parser.hpp"

using namespace callsign;
using namespace callsign::storage;

namespace {

bool flags(const ip_set& set, const std::string& text) {
  auto address = parse_ip_address(text);
  BOOST_TEST_REQUIRE(address.has_value(), "test address must parse");
  return set.contains(*address);
}

std::string v4_text(std::uint32_t value) {
  return std::to_string(value >> 24) + "." + std::to_string((value >> 16) & 255) + "." +
         std::to_string((value >> 8) & 255) + "." + std::to_string(value & 255);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(lists_ip_set)

BOOST_AUTO_TEST_CASE(every_union_address_flags_and_its_free_neighbours_do_not) {
  const std::string text = test::read_text(test::shared_data_dir() / "open-proxies/union.ipset");
  auto set = parse_ip_set(text);
  BOOST_TEST_REQUIRE(set.has_value(), test::error_text(set));
  const auto addresses = test::ipset_addresses(text);
  BOOST_TEST(addresses.size() == 74964U);
  BOOST_TEST(set->entries() == addresses.size());

  std::set<std::uint32_t> members;
  std::size_t missed = 0;
  for (const auto& a : addresses) {
    auto parsed = parse_ip_address(a);
    BOOST_TEST_REQUIRE(parsed.has_value());
    members.insert(parsed->v4_value);
    if (!set->contains(*parsed)) ++missed;
  }
  BOOST_TEST(missed == 0U);

  // Neighbours (value +-1, +-256) that the file does not list must not flag.
  std::size_t checked = 0;
  std::size_t wrongly_flagged = 0;
  for (const std::uint32_t v : members) {
    for (const std::int64_t delta : {-256, -1, 1, 256}) {
      const auto n = static_cast<std::int64_t>(v) + delta;
      if (n < 0 || n > 0xffffffffLL || members.count(static_cast<std::uint32_t>(n)) != 0) continue;
      ++checked;
      if (flags(*set, v4_text(static_cast<std::uint32_t>(n)))) ++wrongly_flagged;
    }
  }
  BOOST_TEST(checked > 200000U);
  BOOST_TEST(wrongly_flagged == 0U);
  BOOST_TEST(!flags(*set, "2001:db8::1"));
}

BOOST_AUTO_TEST_CASE(daily_versions_each_flag_their_own_addresses_only) {
  const auto files = test::daily_proxy_files();
  BOOST_TEST_REQUIRE(files.size() == 24U);
  std::vector<std::string> previous;
  for (const auto& file : files) {
    const std::string text = test::read_text(file);
    auto set = parse_ip_set(text);
    BOOST_TEST_REQUIRE(set.has_value(), file.filename().string() + ": " + test::error_text(set));
    const auto addresses = test::ipset_addresses(text);
    BOOST_TEST(addresses.size() >= 250U);
    for (const auto& a : addresses) BOOST_TEST(flags(*set, a), a);
    const std::set<std::string> current(addresses.begin(), addresses.end());
    for (const auto& old : previous) {
      if (current.count(old) == 0) BOOST_TEST(!flags(*set, old), old);
    }
    previous = addresses;
  }
}

BOOST_AUTO_TEST_CASE(netset_forms_ports_ipv6_and_comments) {
  const std::string text =
      "# FireHOL style\n"
      "\n"
      "  1.82.216.134/31   # inline comment\n"
      "10.0.0.0/8\r\n"
      "192.0.2.7:8080\n"
      "2001:db8::/32\n"
      "[2001:db8:1::5]:3128\n"
      "[2a00::1]\n"
      "2a01::7\n"
      "::ffff:198.51.100.0/120\n"
      "203.0.113.9/24\n";
  auto set = parse_ip_set(text);
  BOOST_TEST_REQUIRE(set.has_value(), test::error_text(set));
  BOOST_TEST(set->entries() == 9U);
  BOOST_TEST(flags(*set, "1.82.216.134"));
  BOOST_TEST(flags(*set, "1.82.216.135"));
  BOOST_TEST(!flags(*set, "1.82.216.136"));
  BOOST_TEST(!flags(*set, "1.82.216.133"));
  BOOST_TEST(flags(*set, "10.255.255.255"));
  BOOST_TEST(!flags(*set, "11.0.0.0"));
  BOOST_TEST(flags(*set, "192.0.2.7"));
  BOOST_TEST(!flags(*set, "192.0.2.8"));
  BOOST_TEST(flags(*set, "2001:db8:ffff::1"));
  BOOST_TEST(!flags(*set, "2001:db9::"));
  BOOST_TEST(flags(*set, "2a00::1"));
  BOOST_TEST(flags(*set, "2a01::7"));
  BOOST_TEST(!flags(*set, "2a01::8"));
  BOOST_TEST(flags(*set, "198.51.100.200"));          // mapped /120 is an IPv4 /24
  BOOST_TEST(flags(*set, "::ffff:10.1.2.3"));          // mapped lookups use the IPv4 set
  BOOST_TEST(flags(*set, "203.0.113.200"));            // host bits of a CIDR are ignored
  BOOST_TEST(!flags(*set, "203.0.114.0"));
}

BOOST_AUTO_TEST_CASE(a_bad_line_rejects_the_file_naming_the_line_not_its_content) {
  const std::string text = "# header\n1.2.3.4\n\n5.6.7.8/24\nsecret-looking-junk\n9.9.9.9\nalso bad\n";
  auto set = parse_ip_set(text);
  BOOST_TEST_REQUIRE(!set.has_value());
  BOOST_TEST(set.error().message.find("line 5") != std::string::npos, set.error().message);
  BOOST_TEST(set.error().message.find("secret") == std::string::npos);
  for (const char* bad : {"1.2.3.4/33", "1.2.3.4:70000", "1.2.3.256", "[2001:db8::1", "2001:db8::/129", "1.2.3.4-5.6.7.8",
                          "[::1]:x"}) {
    auto one = parse_ip_set(std::string("1.1.1.1\n") + bad + "\n");
    BOOST_TEST(!one.has_value(), bad);
    if (!one) BOOST_TEST(one.error().message.rfind("line 2:", 0) == 0U, one.error().message);
  }
}

BOOST_AUTO_TEST_CASE(matches_a_linear_scan_on_random_mixed_prefixes) {
  std::mt19937_64 rng(7);
  std::vector<ip_prefix> prefixes;
  for (int i = 0; i < 3000; ++i) {
    ip_prefix p;
    if (i % 3 == 0) {
      p.address.v6 = true;
      p.address.v6_value = (uint128{0x2001'0db8'0000'0000ULL | (rng() & 0xffff)} << 64) | rng();
      p.length = 16 + static_cast<unsigned>(rng() % 113);
    } else {
      p.address.v4_value = static_cast<std::uint32_t>(rng());
      p.length = 8 + static_cast<unsigned>(rng() % 25);
    }
    prefixes.push_back(p);
  }
  const ip_set set = ip_set::build(prefixes);
  auto naive = [&](const ip_address& a) {
    return std::any_of(prefixes.begin(), prefixes.end(), [&](const ip_prefix& p) {
      if (p.address.v6 != a.v6) return false;
      if (a.v6) {
        const uint128 mask = p.length == 0 ? 0 : ~uint128{0} << (128 - p.length);
        return (a.v6_value & mask) == (p.address.v6_value & mask);
      }
      const std::uint32_t mask = p.length == 0 ? 0 : ~0U << (32 - p.length);
      return (a.v4_value & mask) == (p.address.v4_value & mask);
    });
  };
  std::size_t hits = 0;
  for (int i = 0; i < 20000; ++i) {
    ip_address a;
    const auto& near = prefixes[rng() % prefixes.size()];
    a.v6 = near.address.v6;
    if (a.v6) {
      a.v6_value = near.address.v6_value ^ (uint128{rng()} << (rng() % 64));
    } else {
      a.v4_value = near.address.v4_value ^ static_cast<std::uint32_t>(rng() >> (40 + rng() % 24));
    }
    const bool expected = naive(a);
    hits += expected ? 1 : 0;
    BOOST_TEST_REQUIRE(set.contains(a) == expected);
  }
  BOOST_TEST(hits > 1000U);
  BOOST_TEST(hits < 19000U);
}

BOOST_AUTO_TEST_CASE(single_address_parsing) {
  BOOST_TEST(parse_ip_address("192.0.2.1").has_value());
  BOOST_TEST(!parse_ip_address("192.0.2.1:80").has_value());
  BOOST_TEST(!parse_ip_address("").has_value());
  BOOST_TEST(!parse_ip_address("example.com").has_value());
  auto mapped = parse_ip_address("::ffff:192.0.2.1");
  BOOST_TEST_REQUIRE(mapped.has_value());
  BOOST_TEST(!mapped->v6);
  BOOST_TEST(mapped->v4_value == 0xc0000201U);
  auto v6 = parse_ip_address("2001:db8::1");
  BOOST_TEST_REQUIRE(v6.has_value());
  BOOST_TEST(v6->v6);
}

BOOST_AUTO_TEST_SUITE_END()
