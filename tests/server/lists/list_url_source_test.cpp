// list_registry with a URL source and a scripted downloader (no network): a 304 is a successful
// check that keeps the version, a 200 installs like an upload, refusals keep the old version
// and never keep the refused download's validators, the sha256 pin, and errors that name the
// URL without its userinfo or query.
#include <boost/test/unit_test.hpp>
#include <unistd.h>

#include <deque>
#include <fstream>
#include <iterator>
#include <string>

#include "crypto/hex.hpp"
#include "crypto/sha256.hpp"
#include "server/config/config.hpp"
#include "server/lists/list_registry.hpp"
#include "storage/lists/breach_input.hpp"
#include "storage/lists/hash_set_builder.hpp"
#include "support/temp_directory.hpp"

using namespace callsign;
using namespace callsign::server;
namespace fs = std::filesystem;

namespace {

// One scripted answer: a body (200), not_modified (304), or an error.
struct answer {
  std::string body;
  list_validators validators;
  bool not_modified = false;
  std::optional<error> failure;
};

class scripted_downloader final : public list_downloader {
 public:
  result<list_download> fetch(const list_download_request& request) override {
    requests.push_back(request);
    BOOST_TEST_REQUIRE(!answers.empty());
    answer next = answers.front();
    answers.pop_front();
    if (next.failure) return *next.failure;
    list_download out;
    out.validators = next.validators;
    if (next.not_modified) {
      out.not_modified = true;
      return out;
    }
    auto file = upload_file::create(request.upload, request.max_bytes);
    if (!file) return file.error();
    if (auto written = file->write(next.body); !written) return written.error();
    auto stored = file->finish();
    if (!stored) return stored.error();
    out.stored = *stored;
    return out;
  }
  void stop() noexcept override {}
  std::deque<answer> answers;
  std::vector<list_download_request> requests;
};

answer body(std::string text, list_validators validators = {}) {
  return {std::move(text), std::move(validators), false, std::nullopt};
}
answer not_modified() { return {{}, {}, true, std::nullopt}; }
answer failure(error err) { return {{}, {}, false, std::move(err)}; }

std::string sha256_hex(const std::string& text) { return crypto::hex_encode(crypto::sha256(text)); }

std::vector<std::string> uploads_left(const fs::path& dir) {
  std::vector<std::string> out;
  if (!fs::exists(dir)) return out;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().filename().string().find(".upload-") != std::string::npos) out.push_back(e.path().string());
  }
  return out;
}

struct fixture {
  test::temp_directory dir;
  storage::manual_clock clock{std::chrono::system_clock::time_point(std::chrono::seconds(1'700'000'000))};
  crypto::key_ring keys = crypto::key_ring::generate().value();
  scripted_downloader downloader;
  lists_config config;
  fixture() {
    config.open_proxies.url = "https://reader:s3cret@lists.example.org/p.ipset?token=q5ecret";
    config.open_proxies.refresh_interval = std::chrono::seconds(0);
  }
};

const std::string v1 = "192.0.2.1\n198.51.100.0/24\n";
const std::string v2 = "192.0.2.1\n198.51.100.0/24\n203.0.113.9\n";

void no_secret(const std::string& text) {
  BOOST_TEST(text.find("s3cret") == std::string::npos, text);
  BOOST_TEST(text.find("q5ecret") == std::string::npos, text);
  BOOST_TEST(text.find("reader") == std::string::npos, text);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(list_url_source)

BOOST_FIXTURE_TEST_CASE(fetched_once_after_start_then_304_keeps_the_version, fixture) {
  list_registry registry(config, dir.path(), keys, clock, &downloader);
  registry.load_all();
  BOOST_TEST(downloader.requests.empty());  // start-up does not wait for the network
  BOOST_TEST(registry.has_url_source(list_id::open_proxies));
  BOOST_TEST(!registry.has_url_source(list_id::managed_devices));
  const auto before = registry.status(list_id::open_proxies);
  BOOST_TEST(before.url == "https://lists.example.org/p.ipset");
  BOOST_TEST(before.last_error.find("not downloaded yet from https://lists.example.org/p.ipset") !=
             std::string::npos, before.last_error);

  // refresh_seconds = 0, yet the first poll fetches once; later polls do not.
  downloader.answers.push_back(body(v1, {"\"e1\"", "Mon, 01 Jan 2024 00:00:00 GMT"}));
  auto first = registry.refresh_due();
  BOOST_TEST_REQUIRE(first.size() == 1U);
  BOOST_TEST_REQUIRE(first[0].second.has_value());
  BOOST_TEST(first[0].second->changed);
  BOOST_TEST(registry.refresh_due().empty());
  BOOST_TEST_REQUIRE(downloader.requests.size() == 1U);
  BOOST_TEST((downloader.requests[0].validators == list_validators{}));
  BOOST_TEST(downloader.requests[0].url.password == "s3cret");
  BOOST_TEST(downloader.requests[0].max_bytes == registry.upload_limit(list_id::open_proxies));
  BOOST_TEST(registry.snapshot()->is_open_proxy("198.51.100.7"));
  auto s = registry.status(list_id::open_proxies);
  BOOST_TEST(s.version == 1U);
  BOOST_TEST(s.etag == "\"e1\"");
  BOOST_TEST(s.last_modified == "Mon, 01 Jan 2024 00:00:00 GMT");
  BOOST_TEST(s.sha256 == sha256_hex(v1));
  BOOST_TEST(fs::exists(s.source));  // the last good download, for the next start

  clock.advance(std::chrono::seconds(30));
  downloader.answers.push_back(not_modified());
  auto checked = registry.reload(list_id::open_proxies);
  BOOST_TEST_REQUIRE(checked.has_value());
  BOOST_TEST(!checked->changed);
  BOOST_TEST((downloader.requests.back().validators == list_validators{"\"e1\"", "Mon, 01 Jan 2024 00:00:00 GMT"}));
  s = registry.status(list_id::open_proxies);
  BOOST_TEST(s.version == 1U);
  BOOST_TEST(s.last_error.empty());
  BOOST_TEST(s.last_checked == clock.unix_seconds());
  BOOST_TEST(s.loaded_at == clock.unix_seconds() - 30);
  BOOST_TEST(uploads_left(dir.path() / "lists").empty());
}

BOOST_FIXTURE_TEST_CASE(refusals_keep_the_old_version_and_not_their_validators, fixture) {
  list_registry registry(config, dir.path(), keys, clock, &downloader);
  registry.load_all();
  downloader.answers.push_back(body(v1, {"\"e1\"", ""}));
  BOOST_TEST_REQUIRE(registry.reload(list_id::open_proxies).has_value());

  downloader.answers.push_back(body("192.0.2.1\nnot-an-address\n", {"\"bad\"", ""}));
  auto invalid = registry.reload(list_id::open_proxies);
  BOOST_TEST_REQUIRE(!invalid.has_value());
  BOOST_TEST(invalid.error().message.find("line 2") != std::string::npos, invalid.error().message);

  downloader.answers.push_back(failure(make_error(error_kind::unavailable, "TLS: refused")));
  auto tls = registry.reload(list_id::open_proxies);
  BOOST_TEST_REQUIRE(!tls.has_value());
  BOOST_TEST(tls.error().message == "open_proxies: GET https://lists.example.org/p.ipset: TLS: refused");
  no_secret(tls.error().message);

  auto s = registry.status(list_id::open_proxies);
  BOOST_TEST(s.version == 1U);
  BOOST_TEST(s.sha256 == sha256_hex(v1));
  BOOST_TEST(s.etag == "\"e1\"");  // not "bad": the refused download is asked for in full again
  BOOST_TEST(s.last_error == tls.error().message);
  no_secret(s.last_error);
  BOOST_TEST(registry.snapshot()->is_open_proxy("198.51.100.7"));
  downloader.answers.push_back(body(v2, {"\"e2\"", ""}));
  auto swapped = registry.reload(list_id::open_proxies);
  BOOST_TEST_REQUIRE(swapped.has_value());
  BOOST_TEST(downloader.requests.back().validators.etag == "\"e1\"");
  BOOST_TEST(swapped->status.version == 2U);
  BOOST_TEST(swapped->status.etag == "\"e2\"");
  BOOST_TEST(swapped->status.last_error.empty());
  BOOST_TEST(uploads_left(dir.path() / "lists").empty());
}

// The kept download of a URL set, rewritten in place under its mapping (mapping_guard.hpp), is
// fetched again whole: a conditional GET would get a 304 and keep the zeroed mapping serving.
BOOST_FIXTURE_TEST_CASE(a_damaged_url_set_is_fetched_without_validators, fixture) {
  config.exposed_passwords.url = "https://lists.example.org/pw.set";
  config.exposed_passwords.refresh_interval = std::chrono::seconds(3600);
  storage::hash_set_build_options options;
  options.kind = storage::hash_set_kind::passwords;
  auto builder = storage::hash_set_builder::create(dir.path() / "pw.set", options);
  BOOST_TEST_REQUIRE(builder.has_value());
  BOOST_TEST_REQUIRE(builder->add(*storage::parse_hibp_line("5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8:1")).has_value());
  BOOST_TEST_REQUIRE(builder->finish().has_value());
  std::ifstream in(dir.path() / "pw.set", std::ios::binary);
  const std::string set_bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  list_registry registry(config, dir.path(), keys, clock, &downloader);
  registry.load_all();
  downloader.answers.push_back(body(v1, {"\"p1\"", ""}));    // open_proxies, fetched once after start
  downloader.answers.push_back(body(set_bytes, {"\"s1\"", ""}));
  BOOST_TEST_REQUIRE(registry.refresh_due().size() == 2U);
  BOOST_TEST_REQUIRE(registry.snapshot()->exposed_password("password"));
  BOOST_TEST(registry.refresh_due().empty());

  const auto kept = registry.status(list_id::exposed_passwords).source;
  BOOST_TEST_REQUIRE(::truncate(kept.c_str(), 0) == 0);  // cp over the kept copy, just begun
  BOOST_TEST(!registry.snapshot()->exposed_password("password"));
  downloader.answers.push_back(body(set_bytes, {"\"s1\"", ""}));
  auto due = registry.refresh_due();
  BOOST_TEST_REQUIRE(due.size() == 1U);
  BOOST_TEST_REQUIRE(due[0].second.has_value(), (due[0].second ? "" : due[0].second.error().message));
  BOOST_TEST(due[0].second->changed);
  BOOST_TEST((downloader.requests.back().validators == list_validators{}));  // unconditional
  BOOST_TEST(registry.snapshot()->exposed_password("password"));
  BOOST_TEST(registry.refresh_due().empty());
}

BOOST_FIXTURE_TEST_CASE(a_304_before_any_download_is_an_error, fixture) {
  list_registry registry(config, dir.path(), keys, clock, &downloader);
  registry.load_all();
  downloader.answers.push_back(not_modified());
  auto outcome = registry.reload(list_id::open_proxies);
  BOOST_TEST_REQUIRE(!outcome.has_value());
  BOOST_TEST(outcome.error().message.find("304 but no download is loaded") != std::string::npos);
}

BOOST_FIXTURE_TEST_CASE(sha256_pin_refuses_other_bytes_and_a_stale_copy, fixture) {
  config.open_proxies.sha256 = sha256_hex(v1);
  {
    list_registry registry(config, dir.path(), keys, clock, &downloader);
    registry.load_all();
    downloader.answers.push_back(body(v2, {"\"e2\"", ""}));
    auto refused = registry.reload(list_id::open_proxies);
    BOOST_TEST_REQUIRE(!refused.has_value());
    BOOST_TEST(refused.error().message.find("is not the configured sha256") != std::string::npos);
    BOOST_TEST(registry.status(list_id::open_proxies).version == 0U);
    BOOST_TEST(uploads_left(dir.path() / "lists").empty());
    downloader.answers.push_back(body(v1, {"\"e1\"", ""}));
    BOOST_TEST_REQUIRE(registry.reload(list_id::open_proxies).has_value());
    BOOST_TEST(registry.status(list_id::open_proxies).version == 1U);
  }
  {  // restart: the kept download matches the pin and serves before any fetch
    list_registry registry(config, dir.path(), keys, clock, &downloader);
    registry.load_all();
    BOOST_TEST(registry.status(list_id::open_proxies).version == 1U);
    BOOST_TEST(registry.snapshot()->is_open_proxy("198.51.100.7"));
  }
  config.open_proxies.sha256 = sha256_hex(v2);
  {  // restart with another pin: the kept download does not serve
    list_registry registry(config, dir.path(), keys, clock, &downloader);
    registry.load_all();
    BOOST_TEST(registry.status(list_id::open_proxies).version == 0U);
    BOOST_TEST(registry.status(list_id::open_proxies).last_error.find("sha256") != std::string::npos);
    BOOST_TEST(!registry.snapshot()->is_open_proxy("198.51.100.7"));
  }
}

BOOST_FIXTURE_TEST_CASE(max_bytes_is_passed_down_and_capped_by_the_list_limit, fixture) {
  config.open_proxies.max_bytes = 10;
  config.managed_devices.url = "https://lists.example.org/d.txt";
  config.managed_devices.max_bytes = std::uint64_t{1} << 40;
  list_registry registry(config, dir.path(), keys, clock, &downloader);
  registry.load_all();
  downloader.answers.push_back(body(v1, {}));
  auto outcome = registry.reload(list_id::open_proxies);
  BOOST_TEST_REQUIRE(!outcome.has_value());  // upload_file's limit refuses the 27 bytes
  BOOST_TEST(downloader.requests.back().max_bytes == 10U);
  downloader.answers.push_back(body("D1\n", {}));
  BOOST_TEST_REQUIRE(registry.reload(list_id::managed_devices).has_value());
  BOOST_TEST(downloader.requests.back().max_bytes == registry.upload_limit(list_id::managed_devices));
}

BOOST_FIXTURE_TEST_CASE(without_a_downloader_a_url_list_fails_clearly, fixture) {
  list_registry registry(config, dir.path(), keys, clock);
  registry.load_all();
  auto outcome = registry.reload(list_id::open_proxies);
  BOOST_TEST_REQUIRE(!outcome.has_value());
  BOOST_TEST(outcome.error().message.find("cannot download lists") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
