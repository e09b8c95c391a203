// The pure rules of URL list sources (docs/lists.md, "URL sources"): URL parsing and redaction,
// the conditional request's validators, the status verdict, the byte budget, the sha256 pin,
// and the [lists.<name>] url settings.
#include <boost/test/unit_test.hpp>
#include <string>

#include "server/config/config.hpp"
#include "server/lists/list_fetch.hpp"
#include "server/lists/list_url.hpp"

using namespace callsign;
using namespace callsign::server;

namespace {

template <class T>
std::string why(const result<T>& r) {
  return r.has_value() ? std::string() : r.error().message;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(list_fetch)

BOOST_AUTO_TEST_CASE(url_parts_and_redaction) {
  auto url = parse_list_url("https://reader:p%40ss:w0rd@Lists.Example.org:8443/a/b.ipset?token=s3cret#frag");
  BOOST_TEST_REQUIRE(url.has_value(), why(url));
  BOOST_TEST(url->https);
  BOOST_TEST(url->host == "lists.example.org");
  BOOST_TEST(url->port == 8443);
  BOOST_TEST(url->target == "/a/b.ipset?token=s3cret");
  BOOST_TEST(url->user == "reader");
  BOOST_TEST(url->password == "p@ss:w0rd");
  BOOST_TEST(!url->host_is_ip);
  BOOST_TEST(url->redacted() == "https://lists.example.org:8443/a/b.ipset");
  BOOST_TEST(url->host_header() == "lists.example.org:8443");
  BOOST_TEST(url->basic_authorization() == "Basic cmVhZGVyOnBAc3M6dzByZA==");  // base64("reader:p@ss:w0rd")

  auto plain = parse_list_url("http://192.0.2.7/list.txt");
  BOOST_TEST_REQUIRE(plain.has_value(), why(plain));
  BOOST_TEST(!plain->https);
  BOOST_TEST(plain->port == 80);
  BOOST_TEST(plain->host_is_ip);
  BOOST_TEST(plain->redacted() == "http://192.0.2.7/list.txt");
  BOOST_TEST(plain->basic_authorization().empty());

  auto v6 = parse_list_url("https://[2001:db8::5]:444?x=1");
  BOOST_TEST_REQUIRE(v6.has_value(), why(v6));
  BOOST_TEST(v6->host == "2001:db8::5");
  BOOST_TEST(v6->host_is_ip);
  BOOST_TEST(v6->target == "/?x=1");
  BOOST_TEST(v6->redacted() == "https://[2001:db8::5]:444/");

  auto bare = parse_list_url("https://example.org");
  BOOST_TEST_REQUIRE(bare.has_value(), why(bare));
  BOOST_TEST(bare->target == "/");
  BOOST_TEST(bare->host_header() == "example.org");
}

BOOST_AUTO_TEST_CASE(bad_urls_are_refused_without_quoting_them) {
  for (const char* text : {"ftp://example.org/x", "example.org/x", "https://", "https://:443/x",
                           "https://exa mple.org/x", "https://example.org:0/x", "https://example.org:65536/x",
                           "https://example.org:/x", "https://example.org:12a/x", "https://[2001:db8::5/x",
                           "https://[not-v6]/x", "https://user:s3cret@exa$mple.org/x", "https://u:%zz@example.org/"}) {
    auto url = parse_list_url(text);
    BOOST_TEST(!url.has_value(), text);
    if (!url) {
      BOOST_TEST(url.error().message.find("s3cret") == std::string::npos, url.error().message);
      BOOST_TEST(url.error().message.find("example") == std::string::npos, url.error().message);
    }
  }
}

BOOST_AUTO_TEST_CASE(conditional_headers_follow_the_kept_validators) {
  BOOST_TEST(conditional_headers({}).empty());
  const auto both = conditional_headers({"\"v1\"", "Sun, 06 Dec 2026 10:00:00 GMT"});
  BOOST_TEST_REQUIRE(both.size() == 2U);
  BOOST_TEST(both[0].first == "If-None-Match");
  BOOST_TEST(both[0].second == "\"v1\"");
  BOOST_TEST(both[1].first == "If-Modified-Since");
  BOOST_TEST(both[1].second == "Sun, 06 Dec 2026 10:00:00 GMT");
  const auto etag_only = conditional_headers({"W/\"x\"", ""});
  BOOST_TEST_REQUIRE(etag_only.size() == 1U);
  BOOST_TEST(etag_only[0].first == "If-None-Match");

  // Kept only when they can be sent back safely.
  BOOST_TEST((validators_from("\"a\"", "date") == list_validators{"\"a\"", "date"}));
  BOOST_TEST((validators_from("\"a\"\r\nX-Evil: 1", "") == list_validators{}));
  BOOST_TEST((validators_from(std::string(257, 'e'), "date\n") == list_validators{}));
  BOOST_TEST((validators_from(std::string(256, 'e'), "") == list_validators{std::string(256, 'e'), ""}));
}

BOOST_AUTO_TEST_CASE(statuses_other_than_200_and_304_are_errors) {
  BOOST_TEST((judge_list_response(200, "").value() == list_response::body));
  BOOST_TEST((judge_list_response(200, "identity").value() == list_response::body));
  BOOST_TEST((judge_list_response(304, "").value() == list_response::not_modified));
  for (const unsigned status : {301U, 302U, 307U, 308U}) {
    auto verdict = judge_list_response(status, "");
    BOOST_TEST_REQUIRE(!verdict.has_value());
    BOOST_TEST(verdict.error().message.find("redirects are not followed") != std::string::npos);
  }
  for (const unsigned status : {204U, 206U, 401U, 404U, 500U}) {
    auto verdict = judge_list_response(status, "");
    BOOST_TEST_REQUIRE(!verdict.has_value());
    BOOST_TEST(verdict.error().message.find(std::to_string(status)) != std::string::npos);
  }
  BOOST_TEST(!judge_list_response(200, "gzip").has_value());
}

BOOST_AUTO_TEST_CASE(the_budget_stops_at_the_byte_that_passes_the_limit) {
  download_budget budget(100);
  BOOST_TEST(budget.admit_declared(std::nullopt).has_value());
  BOOST_TEST(budget.admit_declared(100).has_value());
  auto declared = budget.admit_declared(101);
  BOOST_TEST_REQUIRE(!declared.has_value());
  BOOST_TEST(declared.error().message.find("limit of 100 bytes") != std::string::npos);
  BOOST_TEST(budget.take(60).has_value());
  BOOST_TEST(budget.take(40).has_value());  // exactly the limit is fine
  BOOST_TEST(budget.received() == 100U);
  BOOST_TEST(!budget.take(1).has_value());
  BOOST_TEST(budget.received() == 100U);  // a refused chunk is not counted

  download_budget huge(100);
  BOOST_TEST(huge.take(50).has_value());
  BOOST_TEST(!huge.take(~std::uint64_t{0}).has_value());  // no wrap-around
}

BOOST_AUTO_TEST_CASE(sha256_pin) {
  const std::string digest = "9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08";
  auto parsed = parse_expected_sha256(digest);
  BOOST_TEST_REQUIRE(parsed.has_value());
  BOOST_TEST(*parsed == "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08");
  BOOST_TEST(!parse_expected_sha256(digest.substr(1)).has_value());
  BOOST_TEST(!parse_expected_sha256(digest + "0").has_value());
  BOOST_TEST(!parse_expected_sha256("g" + digest.substr(1)).has_value());
  BOOST_TEST(check_expected_sha256(*parsed, *parsed).has_value());
  auto mismatch = check_expected_sha256(*parsed, std::string(64, '0'));
  BOOST_TEST_REQUIRE(!mismatch.has_value());
  BOOST_TEST(mismatch.error().message.find("is not the configured sha256") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(url_settings_in_the_config) {
  auto cfg = parse_config(R"(
[lists.open_proxies]
url = "https://u:pw@lists.example.org/p.ipset?k=1"
sha256 = "9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08"
max_bytes = 5000
timeout_seconds = 7
[lists.managed_devices]
url = "http://192.0.2.7/d.txt"
allow_plain_http = true
)",
                          "t.toml");
  BOOST_TEST_REQUIRE(cfg.has_value(), why(cfg));
  BOOST_TEST(cfg->lists.open_proxies.url.value() == "https://u:pw@lists.example.org/p.ipset?k=1");
  BOOST_TEST(cfg->lists.open_proxies.sha256.value() ==
             "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08");
  BOOST_TEST(cfg->lists.open_proxies.max_bytes.value() == 5000U);
  BOOST_TEST(cfg->lists.open_proxies.fetch_timeout.count() == 7);
  BOOST_TEST(cfg->lists.managed_devices.url.has_value());
  BOOST_TEST(!cfg->lists.exposed_passwords.url.has_value());

  const std::pair<const char*, const char*> refused[] = {
      {"[lists.open_proxies]\npath = \"/x\"\nurl = \"https://e.org/x\"\n", "set either path or url, not both"},
      {"[lists.open_proxies]\nurl = \"http://u:pw9@e.org/x\"\n", "allow_plain_http"},
      {"[lists.open_proxies]\nurl = \"https://u:pw9@e.org:99999/x\"\n", "1 to 65535"},
      {"[lists.open_proxies]\nurl = \"https://e.org/x\"\nsha256 = \"abc\"\n", "64 hex digits"},
      {"[lists.open_proxies]\nsha256 = \"abc\"\n", "applies to a url source only"},
      {"[lists.open_proxies]\nca_file = \"/etc/hostname\"\n", "applies to a url source only"},
      {"[lists.open_proxies]\nurl = \"https://e.org/x\"\nca_file = \"/nonexistent/ca.pem\"\n", "not a readable file"},
      {"[lists.open_proxies]\nurl = \"https://e.org/x\"\nmax_bytes = 0\n", "max_bytes"},
  };
  for (const auto& [toml, expected] : refused) {
    auto bad = parse_config(toml, "t.toml");
    BOOST_TEST_REQUIRE(!bad.has_value(), toml);
    BOOST_TEST(bad.error().message.find(expected) != std::string::npos, bad.error().message);
    BOOST_TEST(bad.error().message.find("pw9") == std::string::npos, bad.error().message);
  }
}

BOOST_AUTO_TEST_SUITE_END()
