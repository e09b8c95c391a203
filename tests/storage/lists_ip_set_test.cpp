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
  for (const std::string& bad : {std::string("192.0.2.2\0junk", 14), std::string("192.0.2.0/24\0", 13),
                                std::string("192.0.2.2:80\0", 13)}) {
    auto one = parse_ip_set("1.1.1.1\n" + bad + "\n");
    BOOST_TEST(!one.has_value(), "a NUL in line 2");
  }
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

namespace {

ip_prefix v4_prefix(std::uint32_t value, unsigned length) {
  ip_prefix p;
  p.address.v4_value = value;
  p.length = length;
  return p;
}

ip_prefix v6_prefix(uint128 value, unsigned length) {
  ip_prefix p;
  p.address.v6 = true;
  p.address.v6_value = value;
  p.length = length;
  return p;
}

bool naive_contains(const std::vector<ip_prefix>& prefixes, const ip_address& a) {
  return std::any_of(prefixes.begin(), prefixes.end(), [&](const ip_prefix& p) {
    if (p.address.v6 != a.v6) return false;
    if (a.v6) {
      const uint128 mask = p.length == 0 ? 0 : ~uint128{0} << (128 - p.length);
      return (a.v6_value & mask) == (p.address.v6_value & mask);
    }
    const std::uint32_t mask = p.length == 0 ? 0 : ~0U << (32 - p.length);
    return (a.v4_value & mask) == (p.address.v4_value & mask);
  });
}

// Every prefix's first and last address and their outside neighbours, plus `extra` addresses,
// answer as a linear scan over the prefixes does; returns the number of hits.
std::size_t check_edges(const std::vector<ip_prefix>& prefixes, const std::vector<ip_address>& extra) {
  const ip_set set = ip_set::build(prefixes);
  std::vector<ip_address> queries = extra;
  for (const auto& p : prefixes) {
    ip_address first = p.address;
    ip_address last = p.address;
    if (p.address.v6) {
      const uint128 host = p.length == 0 ? ~uint128{0} : p.length >= 128 ? 0 : ~uint128{0} >> p.length;
      first.v6_value &= ~host;
      last.v6_value |= host;
      for (const uint128 v : {first.v6_value, last.v6_value, first.v6_value - 1, last.v6_value + 1}) {
        ip_address q = first;
        q.v6_value = v;
        queries.push_back(q);
      }
    } else {
      const std::uint32_t host = p.length == 0 ? ~0U : p.length >= 32 ? 0U : ~0U >> p.length;
      first.v4_value &= ~host;
      last.v4_value |= host;
      for (const std::uint32_t v : {first.v4_value, last.v4_value, first.v4_value - 1, last.v4_value + 1}) {
        ip_address q = first;
        q.v4_value = v;
        queries.push_back(q);
      }
    }
  }
  std::size_t hits = 0;
  std::size_t wrong = 0;
  for (const auto& q : queries) {
    const bool expected = naive_contains(prefixes, q);
    hits += expected ? 1U : 0U;
    wrong += set.contains(q) == expected ? 0U : 1U;
  }
  BOOST_TEST(wrong == 0U);
  return hits;
}

ip_address v4_at(std::uint32_t v) {
  ip_address a;
  a.v4_value = v;
  return a;
}

ip_address v6_at(uint128 v) {
  ip_address a;
  a.v6 = true;
  a.v6_value = v;
  return a;
}

}  // namespace

BOOST_AUTO_TEST_CASE(edge_prefixes_match_a_linear_scan) {
  const uint128 all_ones = ~uint128{0};
  const std::vector<ip_address> corners = {v4_at(0),           v4_at(0xffffffffU), v4_at(0x7fffffffU),
                                           v4_at(0x80000000U), v4_at(0x0000ffffU), v4_at(0x00010000U),
                                           v6_at(0),           v6_at(all_ones),    v6_at(uint128{1} << 127)};
  // Empty set, and sets of one entry at each end of both families.
  BOOST_TEST(check_edges({}, corners) == 0U);
  BOOST_TEST(check_edges({v4_prefix(0, 0)}, corners) >= 6U);  // 0.0.0.0/0: every IPv4 address
  BOOST_TEST(check_edges({v4_prefix(0xffffffffU, 32)}, corners) > 0U);
  BOOST_TEST(check_edges({v4_prefix(0, 32)}, corners) > 0U);
  BOOST_TEST(check_edges({v6_prefix(0, 0)}, corners) >= 3U);  // ::/0
  BOOST_TEST(check_edges({v6_prefix(all_ones, 128)}, corners) > 0U);
  BOOST_TEST(check_edges({v6_prefix(0, 128)}, corners) > 0U);
  // Adjacent, overlapping and nested prefixes, across /16 edges and at the ends of the space.
  BOOST_TEST(check_edges({v4_prefix(0x0a000000U, 16), v4_prefix(0x0a010000U, 16), v4_prefix(0x0a00ff00U, 24),
                          v4_prefix(0x0b000000U, 8), v4_prefix(0x0bfffffeU, 31), v4_prefix(0xfffffff0U, 28),
                          v4_prefix(0xffff0000U, 17), v4_prefix(0x0001fffeU, 31), v4_prefix(0x00020000U, 32),
                          v6_prefix(uint128{0x2001'0db8ULL} << 96, 32), v6_prefix((uint128{0x2001'0db9ULL} << 96) - 1, 128),
                          v6_prefix(all_ones - 0xff, 120), v6_prefix(0, 64)},
                         corners) > 30U);
}

BOOST_AUTO_TEST_CASE(a_dense_slash_16_overflows_its_line_and_still_matches) {
  // 200 single addresses and 40 small ranges in one /16 (more pieces than a line holds), 16 in
  // the next (exactly a full line), 17 in the one after (one too many).
  std::mt19937_64 rng(9);
  std::vector<ip_prefix> prefixes;
  for (int i = 0; i < 200; ++i) prefixes.push_back(v4_prefix(0xc6330000U | static_cast<std::uint32_t>(rng() & 0xffff), 32));
  for (int i = 0; i < 40; ++i) prefixes.push_back(v4_prefix(0xc6330000U | static_cast<std::uint32_t>(rng() & 0xffff), 28));
  for (std::uint32_t i = 0; i < 16; ++i) prefixes.push_back(v4_prefix(0xc6340000U + i * 0x1000U + 7, 32));
  for (std::uint32_t i = 0; i < 17; ++i) prefixes.push_back(v4_prefix(0xc6350000U + i * 0x0f00U + 3, 32));
  std::vector<ip_address> extra;
  for (int i = 0; i < 20000; ++i) extra.push_back(v4_at(0xc6330000U + static_cast<std::uint32_t>(rng() % 0x30000)));
  BOOST_TEST(check_edges(prefixes, extra) > 300U);
}

BOOST_AUTO_TEST_CASE(single_address_parsing) {
  BOOST_TEST(parse_ip_address("192.0.2.1").has_value());
  BOOST_TEST(!parse_ip_address("192.0.2.1:80").has_value());
  BOOST_TEST(!parse_ip_address("").has_value());
  BOOST_TEST(!parse_ip_address("example.com").has_value());
  // inet_pton would stop at the NUL and read 192.0.2.77.
  BOOST_TEST(!parse_ip_address(std::string_view("192.0.2.77\0 anything", 20)).has_value());
  BOOST_TEST(!parse_ip_address(std::string_view("2001:db8::1\0", 12)).has_value());
  auto mapped = parse_ip_address("::ffff:192.0.2.1");
  BOOST_TEST_REQUIRE(mapped.has_value());
  BOOST_TEST(!mapped->v6);
  BOOST_TEST(mapped->v4_value == 0xc0000201U);
  auto v6 = parse_ip_address("2001:db8::1");
  BOOST_TEST_REQUIRE(v6.has_value());
  BOOST_TEST(v6->v6);
}

// The server's byte form and the set's integer form come from one parse (parse_ip_bytes).
BOOST_AUTO_TEST_CASE(the_byte_and_integer_forms_are_one_parse) {
  auto mapped = storage::parse_ip_bytes("::ffff:192.0.2.1");
  BOOST_TEST_REQUIRE(mapped.has_value());
  BOOST_TEST(!mapped->v6);
  BOOST_TEST((mapped == storage::parse_ip_bytes("192.0.2.1")));
  BOOST_TEST(mapped->bytes[0] == 192);
  BOOST_TEST(mapped->bytes[3] == 1);
  BOOST_TEST(mapped->bytes[4] == 0);
  auto v6 = storage::parse_ip_bytes("2001:db8::ff");
  BOOST_TEST_REQUIRE(v6.has_value());
  BOOST_TEST(v6->v6);
  BOOST_TEST(v6->bytes[0] == 0x20);
  BOOST_TEST(v6->bytes[15] == 0xff);
  const auto value = storage::to_ip_value(*v6);
  BOOST_TEST((value.v6_value == ((storage::uint128{0x20010db8} << 96) | 0xff)));
  BOOST_TEST(storage::to_ip_value(*mapped).v4_value == 0xc0000201U);
  for (const char* bad : {"", "192.0.2.1:80", "[2001:db8::1]", "fe80::1%eth0", "1.2.3", "01.2.3.4"}) {
    BOOST_TEST(!storage::parse_ip_bytes(bad).has_value(), bad);
    BOOST_TEST(!parse_ip_address(bad).has_value(), bad);
  }
}

BOOST_AUTO_TEST_SUITE_END()
