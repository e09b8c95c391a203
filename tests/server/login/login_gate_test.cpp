// The gate's plain functions: which address a request is from, and the verdict.
#include "server/login/login_gate.hpp"

#include <boost/test/unit_test.hpp>

#include "server/login/ip_address.hpp"
#include "storage/database.hpp"
#include "storage/embedded_blocks.hpp"
#include "storage/embedded_rate_counters.hpp"
#include "support/login_recording.hpp"
#include "support/temp_directory.hpp"

using namespace callsign;
using namespace callsign::server;

namespace {
std::vector<ip_network> proxies(std::initializer_list<std::string_view> texts) {
  std::vector<ip_network> out;
  for (auto text : texts) {
    auto network = parse_ip_network(text);
    BOOST_REQUIRE(network);
    out.push_back(*network);
  }
  return out;
}

std::string client(std::string_view peer, std::optional<std::string_view> xff, std::optional<std::string_view> real,
                   const std::vector<ip_network>& trusted) {
  auto address = gate_client_address(peer, xff, real, trusted);
  BOOST_REQUIRE(address);
  return to_string(*address);
}
}  // namespace

BOOST_AUTO_TEST_SUITE(login_gate_suite)

BOOST_AUTO_TEST_CASE(addresses_and_networks_parse_strictly) {
  BOOST_TEST(parse_ip_address("203.0.113.7").has_value());
  BOOST_TEST(parse_ip_address("2001:db8::1").has_value());
  BOOST_TEST(!parse_ip_address("203.0.113.256"));
  BOOST_TEST(!parse_ip_address("203.0.113.7:80"));
  BOOST_TEST(!parse_ip_address("[2001:db8::1]"));
  BOOST_TEST(!parse_ip_address(""));
  BOOST_TEST(!parse_ip_address("alice"));
  auto mapped = parse_ip_address("::ffff:192.0.2.1");
  BOOST_REQUIRE(mapped);
  BOOST_TEST(!mapped->v6);
  BOOST_TEST(to_string(*mapped) == "192.0.2.1");
  auto net = parse_ip_network("10.1.2.3/8");
  BOOST_REQUIRE(net);
  BOOST_TEST(to_string(*net) == "10.0.0.0/8");
  BOOST_TEST(net->contains(*parse_ip_address("10.255.0.1")));
  BOOST_TEST(!net->contains(*parse_ip_address("11.0.0.1")));
  BOOST_TEST(!net->contains(*parse_ip_address("::a00:1")));
  BOOST_TEST(!parse_ip_network("10.0.0.0/33"));
  BOOST_TEST(!parse_ip_network("10.0.0.0/"));
  BOOST_TEST(to_string(login_group(*parse_ip_address("2001:db8:a:b:c:d:e:f"))) == "2001:db8:a:b::/64");
}

BOOST_AUTO_TEST_CASE(headers_count_only_from_trusted_peers) {
  const auto trusted = proxies({"127.0.0.1", "10.0.0.0/8"});
  // An untrusted peer's headers are ignored.
  BOOST_TEST(client("198.51.100.4", "203.0.113.9", "203.0.113.9", trusted) == "198.51.100.4");
  // From a trusted peer: the rightmost hop that is not a trusted proxy.
  BOOST_TEST(client("127.0.0.1", "203.0.113.9", std::nullopt, trusted) == "203.0.113.9");
  BOOST_TEST(client("127.0.0.1", "1.1.1.1, 203.0.113.9, 10.0.0.5", std::nullopt, trusted) == "203.0.113.9");
  BOOST_TEST(client("127.0.0.1", "10.0.0.7, 10.0.0.5", std::nullopt, trusted) == "10.0.0.7");
  BOOST_TEST(client("127.0.0.1", "[2001:db8::5]:4431", std::nullopt, trusted) == "2001:db8::5");
  BOOST_TEST(client("127.0.0.1", "203.0.113.9:5000", std::nullopt, trusted) == "203.0.113.9");
  // Empty elements are ignored (RFC 9110 §5.6.1); only empty ones: as if absent.
  BOOST_TEST(client("127.0.0.1", ", 203.0.113.9, ,", std::nullopt, trusted) == "203.0.113.9");
  BOOST_TEST(client("127.0.0.1", " , ,", "203.0.113.10", trusted) == "203.0.113.10");
  BOOST_TEST(client("127.0.0.1", ",", std::nullopt, trusted) == "127.0.0.1");
  // X-Real-IP only without X-Forwarded-For.
  BOOST_TEST(client("127.0.0.1", std::nullopt, "203.0.113.10", trusted) == "203.0.113.10");
  BOOST_TEST(client("127.0.0.1", "203.0.113.9", "203.0.113.10", trusted) == "203.0.113.9");
  BOOST_TEST(client("127.0.0.1", std::nullopt, std::nullopt, trusted) == "127.0.0.1");
  // Garbage from a trusted proxy is an error naming the header, not a guess.
  auto bad = gate_client_address("127.0.0.1", "203.0.113.9, not-an-ip", std::nullopt, trusted);
  BOOST_REQUIRE(!bad);
  BOOST_TEST(bad.error().message.find("X-Forwarded-For") != std::string::npos);
  BOOST_TEST(bad.error().message.find("not-an-ip") == std::string::npos);
  BOOST_TEST(!gate_client_address("127.0.0.1", std::nullopt, "x", trusted));
  // No trusted proxies configured: always the peer.
  BOOST_TEST(client("127.0.0.1", "203.0.113.9", std::nullopt, {}) == "127.0.0.1");
}

BOOST_AUTO_TEST_CASE(verdicts_follow_blocks_and_open_proxy_policy) {
  test::temp_directory dir;
  auto db = storage::database::open({dir.path() / "db", true});
  BOOST_REQUIRE(db);
  storage::embedded_rate_counters counters(**db);
  auto blocks = storage::embedded_blocks::open(**db, 0);
  BOOST_REQUIRE(blocks);
  crypto::master_key master;
  master.bytes.fill(3);
  login_config cfg;
  login_limiter limiter(cfg, master, counters, **blocks);
  const std::int64_t now = 1'700'000'000'000;
  const auto listed = *parse_ip_address("192.0.2.66");
  const auto other = *parse_ip_address("192.0.2.67");
  open_proxy_lookup lookup = [&listed](const ip_address& a) {
    return a == listed ? open_proxy_answer::listed : open_proxy_answer::not_listed;
  };

  // Policy off (the default): open proxies pass.
  auto d = decide_gate(limiter, listed, lookup, now);
  BOOST_REQUIRE(d);
  BOOST_TEST((d->verdict == gate_verdict::allow));
  cfg.gate_block_open_proxies = true;
  d = decide_gate(limiter, listed, lookup, now);
  BOOST_REQUIRE(d);
  BOOST_TEST((d->verdict == gate_verdict::open_proxy));
  d = decide_gate(limiter, other, lookup, now);
  BOOST_REQUIRE(d);
  BOOST_TEST((d->verdict == gate_verdict::allow));
  // No list loaded: nothing is refused as an open proxy.
  d = decide_gate(limiter, listed, open_proxy_lookup{}, now);
  BOOST_REQUIRE(d);
  BOOST_TEST((d->verdict == gate_verdict::allow));

  // A blocked address gets blocked with Retry-After, before the open-proxy check.
  storage::change_set changes;
  for (int i = 0; i < 5; ++i) {
    BOOST_REQUIRE(test::record_inline(limiter, listed, "someone", false, now + i, changes));
  }
  d = decide_gate(limiter, listed, lookup, now + 10);
  BOOST_REQUIRE(d);
  BOOST_TEST((d->verdict == gate_verdict::blocked));
  BOOST_TEST(d->retry_after_seconds == 3600);
  BOOST_TEST(d->matched_key == "192.0.2.66");
  BOOST_TEST(limiter.metrics().gate_blocked.load() == 1U);
  // The route counts the gate's other answers, once the rules have had their say
  // (login_gate_nginx_test.py checks callsign_login_gate_open_proxy_total).
}

BOOST_AUTO_TEST_SUITE_END()
