#include <algorithm>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "crypto/credential_hash.hpp"
#include "server/config/config.hpp"
#include "server/lists/list_registry.hpp"
#include "storage/lists/breach_input.hpp"
#include "storage/lists/hash_set_builder.hpp"
#include "support/temp_directory.hpp"

using namespace callsign;
using namespace callsign::server;
namespace fs = std::filesystem;

namespace {

fs::path data_dir() {
  const char* shared = std::getenv("CALLSIGN_SHARED_DIR");
  BOOST_TEST_REQUIRE(shared != nullptr);
  return fs::path(shared) / "data";
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

void write_text(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

std::vector<std::string> addresses_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (!line.empty() && line[0] != '#') out.push_back(line);
  }
  return out;
}

std::vector<fs::path> daily_files() {
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(data_dir() / "open-proxies")) {
    if (e.path().filename().string().rfind("daily-", 0) == 0) files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

template <class T>
std::string why(const result<T>& r) {
  return r.has_value() ? std::string() : r.error().message;
}

// Uploads `content` the way PUT does: write next to the source, then install.
result<reload_outcome> upload(list_registry& registry, list_id id, const std::string& content) {
  auto path = registry.upload_path(id);
  BOOST_TEST_REQUIRE(path.has_value());
  write_text(*path, content);
  return registry.install_upload(id, *path);
}

struct fixture {
  test::temp_directory dir;
  storage::manual_clock clock{std::chrono::system_clock::time_point(std::chrono::seconds(1'700'000'000))};
  crypto::key_ring keys = crypto::key_ring::generate().value();
  lists_config config;
};

std::string build_credential_set(const fs::path& out, const crypto::master_key& key,
                                 const std::vector<std::pair<std::string, std::string>>& pairs) {
  const crypto::credential_hasher hasher(key);
  storage::hash_set_build_options options;
  options.kind = storage::hash_set_kind::credentials;
  options.key_id = hasher.key_id();
  auto builder = storage::hash_set_builder::create(out, options);
  BOOST_TEST_REQUIRE(builder.has_value());
  for (const auto& [u, p] : pairs) BOOST_TEST_REQUIRE(builder->add(hasher.hash(u, p)).has_value());
  BOOST_TEST_REQUIRE(builder->finish().has_value());
  return read_text(out);
}

std::vector<std::pair<std::string, std::string>> default_credentials() {
  std::istringstream lines(read_text(data_dir() / "credentials/default-credentials.csv"));
  std::string line;
  std::getline(lines, line);
  std::vector<std::pair<std::string, std::string>> pairs;
  std::vector<std::string> fields;
  while (std::getline(lines, line)) {
    BOOST_TEST_REQUIRE(storage::split_csv_line(storage::strip_line_ending(line), fields).has_value());
    pairs.emplace_back(fields[1], fields[2]);
  }
  return pairs;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(lists_registry)

BOOST_FIXTURE_TEST_CASE(missing_sources_start_empty_with_last_error, fixture) {
  list_registry registry(config, dir.path(), keys, clock);
  registry.load_all();
  for (const auto& s : registry.statuses()) {
    BOOST_TEST(s.version == 0U);
    BOOST_TEST(s.entries == 0U);
    BOOST_TEST(s.last_error.find("does not exist") != std::string::npos, s.last_error);
    BOOST_TEST(s.source.parent_path() == dir.path() / "lists");
  }
  const auto snap = registry.snapshot();
  BOOST_TEST(!snap->is_open_proxy("1.2.3.4"));
  BOOST_TEST(!snap->exposed_credential("admin", "admin"));
  BOOST_TEST(!snap->exposed_password("password"));
  BOOST_TEST(!snap->is_managed_device("X1"));
}

BOOST_FIXTURE_TEST_CASE(daily_versions_upload_in_order_and_a_bad_one_keeps_the_old, fixture) {
  list_registry registry(config, dir.path(), keys, clock);
  registry.load_all();
  const auto files = daily_files();
  BOOST_TEST_REQUIRE(files.size() == 24U);
  std::uint64_t version = 0;
  std::vector<std::string> previous;
  for (const auto& file : files) {
    clock.advance(std::chrono::seconds(60));
    const std::string text = read_text(file);
    auto outcome = upload(registry, list_id::open_proxies, text);
    BOOST_TEST_REQUIRE(outcome.has_value(), why(outcome));
    BOOST_TEST(outcome->changed);
    BOOST_TEST(outcome->status.version == ++version);
    const auto addresses = addresses_of(text);
    BOOST_TEST(outcome->status.entries == addresses.size());
    BOOST_TEST(outcome->status.loaded_at == clock.unix_seconds());
    const auto snap = registry.snapshot();
    for (const auto& a : addresses) BOOST_TEST(snap->is_open_proxy(a), a);
    const std::set<std::string> now(addresses.begin(), addresses.end());
    for (const auto& old : previous) {
      if (now.count(old) == 0) BOOST_TEST(!snap->is_open_proxy(old), old);
    }
    previous = addresses;
  }
  BOOST_TEST(read_text(registry.status(list_id::open_proxies).source) == read_text(files.back()));

  // The same content again: nothing swapped.
  auto same = upload(registry, list_id::open_proxies, read_text(files.back()));
  BOOST_TEST_REQUIRE(same.has_value());
  BOOST_TEST(!same->changed);
  BOOST_TEST(same->status.version == version);

  // A bad upload: rejected with its line, the old version keeps serving, the source is intact.
  auto bad = upload(registry, list_id::open_proxies, "# new\n1.2.3.4\nnot-an-address\n");
  BOOST_TEST_REQUIRE(!bad.has_value());
  BOOST_TEST(bad.error().message.find("line 3") != std::string::npos, bad.error().message);
  BOOST_TEST(bad.error().message.find("not-an-address") == std::string::npos);
  const auto status = registry.status(list_id::open_proxies);
  BOOST_TEST(status.version == version);
  BOOST_TEST(status.last_error.find("line 3") != std::string::npos);
  BOOST_TEST(registry.snapshot()->is_open_proxy(previous.front()));
  BOOST_TEST(!registry.snapshot()->is_open_proxy("1.2.3.4"));
  BOOST_TEST(read_text(status.source) == read_text(files.back()));
  std::size_t leftovers = 0;
  for (const auto& e : fs::directory_iterator(status.source.parent_path())) {
    leftovers += e.path().filename().string().find(".upload-") != std::string::npos ? 1U : 0U;
  }
  BOOST_TEST(leftovers == 0U);
}

BOOST_FIXTURE_TEST_CASE(periodic_refresh_reloads_only_changed_content, fixture) {
  const fs::path source = dir.path() / "proxies.netset";
  write_text(source, "10.0.0.0/8\n");
  config.open_proxies.path = source;
  config.open_proxies.refresh_interval = std::chrono::seconds(3600);
  config.managed_devices.refresh_interval = std::chrono::seconds(0);
  config.exposed_credentials.refresh_interval = std::chrono::seconds(0);
  config.exposed_passwords.refresh_interval = std::chrono::seconds(0);
  list_registry registry(config, dir.path(), keys, clock);
  registry.load_all();
  BOOST_TEST(registry.status(list_id::open_proxies).version == 1U);
  BOOST_TEST(registry.snapshot()->is_open_proxy("10.1.2.3"));

  write_text(source, "192.0.2.0/24\n");
  clock.advance(std::chrono::seconds(3599));
  BOOST_TEST(registry.refresh_due().empty());
  BOOST_TEST(registry.snapshot()->is_open_proxy("10.1.2.3"));
  clock.advance(std::chrono::seconds(1));
  auto due = registry.refresh_due();
  BOOST_TEST_REQUIRE(due.size() == 1U);
  BOOST_TEST_REQUIRE(due[0].second.has_value());
  BOOST_TEST(due[0].second->changed);
  BOOST_TEST(registry.status(list_id::open_proxies).version == 2U);
  BOOST_TEST(registry.snapshot()->is_open_proxy("192.0.2.9"));
  BOOST_TEST(!registry.snapshot()->is_open_proxy("10.1.2.3"));

  clock.advance(std::chrono::seconds(3600));
  due = registry.refresh_due();
  BOOST_TEST_REQUIRE(due.size() == 1U);
  BOOST_TEST(!due[0].second->changed);
  BOOST_TEST(registry.status(list_id::open_proxies).version == 2U);

  // A broken edit in place: the refresh fails, the old version keeps serving.
  write_text(source, "192.0.2.0/24\n300.1.1.1\n");
  clock.advance(std::chrono::seconds(3600));
  due = registry.refresh_due();
  BOOST_TEST_REQUIRE(due.size() == 1U);
  BOOST_TEST(!due[0].second.has_value());
  BOOST_TEST(registry.status(list_id::open_proxies).last_error.find("line 2") != std::string::npos);
  BOOST_TEST(registry.snapshot()->is_open_proxy("192.0.2.9"));
}

BOOST_FIXTURE_TEST_CASE(credential_sets_from_default_credentials_and_key_checks, fixture) {
  list_registry registry(config, dir.path(), keys, clock);
  registry.load_all();
  const auto pairs = default_credentials();
  const std::string good = build_credential_set(dir.path() / "good.set", keys.current(), pairs);
  auto installed = upload(registry, list_id::exposed_credentials, good);
  BOOST_TEST_REQUIRE(installed.has_value(), why(installed));
  BOOST_TEST(installed->status.version == 1U);
  const auto snap = registry.snapshot();
  std::size_t missed = 0;
  std::size_t false_hits = 0;
  std::set<std::pair<std::string, std::string>> known;
  for (const auto& [u, p] : pairs) known.emplace(crypto::normalize_username(u), p);
  for (const auto& [u, p] : pairs) {
    missed += snap->exposed_credential(u, p) ? 0U : 1U;
    const std::string other = p + "-not-the-default";
    if (known.count({crypto::normalize_username(u), other}) == 0) false_hits += snap->exposed_credential(u, other) ? 1U : 0U;
  }
  BOOST_TEST(missed == 0U);
  BOOST_TEST(false_hits == 0U);

  // Built with another server's key: refused with a clear error, the old set keeps serving.
  auto foreign_ring = crypto::key_ring::generate().value();
  const std::string foreign = build_credential_set(dir.path() / "foreign.set", foreign_ring.current(), pairs);
  auto refused = upload(registry, list_id::exposed_credentials, foreign);
  BOOST_TEST_REQUIRE(!refused.has_value());
  BOOST_TEST(refused.error().message.find("different master key") != std::string::npos, refused.error().message);
  BOOST_TEST(registry.snapshot()->exposed_credential("admin", "admin"));
  BOOST_TEST(registry.status(list_id::exposed_credentials).version == 1U);

  // Truncated, wrong magic, a password set in the credential slot, text: all refused.
  std::string wrong_magic = good;
  wrong_magic[1] = 'Z';
  for (const auto& [label, content] : std::vector<std::pair<std::string, std::string>>{
           {"truncated", good.substr(0, good.size() - 16)},
           {"magic", wrong_magic},
           {"text", "admin:admin\n"}}) {
    auto bad = upload(registry, list_id::exposed_credentials, content);
    BOOST_TEST(!bad.has_value(), label);
    BOOST_TEST(registry.snapshot()->exposed_credential("admin", "admin"), label);
  }
  BOOST_TEST(registry.status(list_id::exposed_credentials).version == 1U);

  // After a key rotation the set built with the older version still loads.
  auto rotated = keys.rotated().value();
  list_registry after_rotation(config, dir.path(), rotated, clock);
  after_rotation.load_all();
  BOOST_TEST(after_rotation.status(list_id::exposed_credentials).last_error.empty(),
             after_rotation.status(list_id::exposed_credentials).last_error);
  BOOST_TEST(after_rotation.snapshot()->exposed_credential("admin", "admin"));
}

// `cp new.set creds.set` rewrites the serving file's inode in place. The serving mapping then
// matches nothing (and does not crash the process); the registry reloads it at its next poll,
// whatever the interval, and says what happened while the file is incomplete.
BOOST_FIXTURE_TEST_CASE(a_set_file_rewritten_in_place_is_reloaded_at_once, fixture) {
  config.exposed_credentials.refresh_interval = std::chrono::seconds(3600);
  list_registry registry(config, dir.path(), keys, clock);
  registry.load_all();
  const auto pairs = default_credentials();
  const std::string good = build_credential_set(dir.path() / "good.set", keys.current(), pairs);
  auto installed = upload(registry, list_id::exposed_credentials, good);
  BOOST_TEST_REQUIRE(installed.has_value(), why(installed));
  const auto source = registry.status(list_id::exposed_credentials).source;
  BOOST_TEST(registry.snapshot()->exposed_credential("admin", "admin"));
  BOOST_TEST(registry.refresh_due().empty());

  // Half-way through the copy: truncated to its header.
  BOOST_TEST_REQUIRE(::truncate(source.c_str(), 128) == 0);
  std::size_t hits = 0;
  for (const auto& [u, p] : pairs) hits += registry.snapshot()->exposed_credential(u, p) ? 1U : 0U;
  BOOST_TEST(hits == 0U);  // every lookup answered, none matched
  auto due = registry.refresh_due();
  BOOST_TEST_REQUIRE(due.size() == 1U);
  BOOST_TEST_REQUIRE(!due[0].second.has_value());
  BOOST_TEST(due[0].second.error().message.find("rewritten in place") != std::string::npos, due[0].second.error().message);
  BOOST_TEST(registry.status(list_id::exposed_credentials).last_error.find("rewritten in place") != std::string::npos);
  clock.advance(std::chrono::seconds(9));
  BOOST_TEST(registry.refresh_due().empty());  // a failed reload is retried every 10 s, not every poll

  // The copy completes with the same content: reloaded, though its SHA-256 has not changed.
  write_text(source, good);
  clock.advance(std::chrono::seconds(1));
  due = registry.refresh_due();
  BOOST_TEST_REQUIRE(due.size() == 1U);
  BOOST_TEST_REQUIRE(due[0].second.has_value(), why(due[0].second));
  BOOST_TEST(due[0].second->changed);
  BOOST_TEST(registry.status(list_id::exposed_credentials).version == 2U);
  BOOST_TEST(registry.status(list_id::exposed_credentials).last_error.empty());
  BOOST_TEST(registry.snapshot()->exposed_credential("admin", "admin"));
  BOOST_TEST(registry.refresh_due().empty());
}

BOOST_FIXTURE_TEST_CASE(devices_and_passwords, fixture) {
  list_registry registry(config, dir.path(), keys, clock);
  registry.load_all();
  auto devices = upload(registry, list_id::managed_devices, "# fleet\nC02XK0AAJG5H\nR58M12ABCDE\n");
  BOOST_TEST_REQUIRE(devices.has_value());
  BOOST_TEST(registry.snapshot()->is_managed_device("C02XK0AAJG5H"));
  BOOST_TEST(!registry.snapshot()->is_managed_device("OTHER"));
  auto bad_devices = upload(registry, list_id::managed_devices, "OK1\nnot ok\n");
  BOOST_TEST_REQUIRE(!bad_devices.has_value());
  BOOST_TEST(bad_devices.error().message.find("line 2") != std::string::npos);
  BOOST_TEST(registry.snapshot()->is_managed_device("R58M12ABCDE"));

  storage::hash_set_build_options options;
  options.kind = storage::hash_set_kind::passwords;
  auto builder = storage::hash_set_builder::create(dir.path() / "pw.set", options);
  BOOST_TEST_REQUIRE(builder.has_value());
  for (const char* line : {"5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8:10434004",   // "password"
                           "7C4A8D09CA3762AF61E59520943DC26494F8941B:37359195"}) {  // "123456"
    BOOST_TEST_REQUIRE(builder->add(*storage::parse_hibp_line(line)).has_value());
  }
  BOOST_TEST_REQUIRE(builder->finish().has_value());
  auto passwords = upload(registry, list_id::exposed_passwords, read_text(dir.path() / "pw.set"));
  BOOST_TEST_REQUIRE(passwords.has_value(), why(passwords));
  BOOST_TEST(registry.snapshot()->exposed_password("password"));
  BOOST_TEST(registry.snapshot()->exposed_password("123456"));
  BOOST_TEST(!registry.snapshot()->exposed_password("Tr0ub4dor&3-unlisted"));
  // A credential-kind upload into the password slot is refused.
  auto wrong_kind = upload(registry, list_id::exposed_passwords,
                           build_credential_set(dir.path() / "c.set", keys.current(), {{"a", "b"}}));
  BOOST_TEST(!wrong_kind.has_value());
  BOOST_TEST(registry.snapshot()->exposed_password("password"));
}

BOOST_AUTO_TEST_CASE(upload_route_limit_and_config) {
  const server_config defaults;
  BOOST_TEST(defaults.lists.max_upload_bytes == std::size_t{16} << 30);  // a 1e9-entry HIBP set fits
  BOOST_TEST(defaults.lists.max_text_bytes == std::size_t{256} << 20);

  auto parsed = parse_config(
      "[lists]\nmax_upload_bytes = 2048\nmax_text_bytes = 1500\n"
      "[lists.open_proxies]\npath = \"/srv/p.netset\"\nrefresh_seconds = 60\n",
      "t.toml");
  BOOST_TEST_REQUIRE(parsed.has_value(), why(parsed));
  BOOST_TEST(parsed->lists.max_upload_bytes == 2048U);
  BOOST_TEST(parsed->lists.max_text_bytes == 1500U);
  BOOST_TEST(parsed->lists.open_proxies.path.value() == "/srv/p.netset");
  BOOST_TEST(parsed->lists.open_proxies.refresh_interval.count() == 60);
  BOOST_TEST(parsed->lists.exposed_passwords.refresh_interval.count() == 3600);
  auto unknown = parse_config("[lists.open_proxies]\nrefresh = 5\n", "t.toml");
  BOOST_TEST_REQUIRE(!unknown.has_value());
  BOOST_TEST(unknown.error().message.find("lists.open_proxies") != std::string::npos, unknown.error().message);
  auto negative = parse_config("[lists.exposed_passwords]\nrefresh_seconds = -1\n", "t.toml");
  BOOST_TEST_REQUIRE(!negative.has_value());
  BOOST_TEST(negative.error().message.find("refresh_seconds") != std::string::npos, negative.error().message);
  BOOST_TEST(!parse_config("[lists]\nmystery = 1\n", "t.toml").has_value());
}

BOOST_AUTO_TEST_CASE(list_names) {
  for (const list_id id : all_lists) BOOST_TEST((parse_list_name(list_name(id)) == id));
  BOOST_TEST(!parse_list_name("open-proxies").has_value());
}

BOOST_AUTO_TEST_SUITE_END()
