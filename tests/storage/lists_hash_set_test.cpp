#include <fcntl.h>
#include <sys/mman.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>

#include <cstring>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "crypto/credential_hash.hpp"
#include "crypto/hex.hpp"
#include "crypto/sha1.hpp"
#include "lists_test_support.hpp"
#include "storage/lists/breach_input.hpp"
#include "storage/lists/hash_set_builder.hpp"
#include "storage/lists/hash_set_file.hpp"
#include "support/temp_directory.hpp"

using namespace callsign;
using namespace callsign::storage;
namespace fs = std::filesystem;

namespace {

crypto::master_key test_master(std::uint8_t seed) {
  crypto::master_key m;
  m.version = 1;
  for (std::size_t i = 0; i < m.bytes.size(); ++i) m.bytes[i] = static_cast<std::uint8_t>(seed + i * 13);
  return m;
}

struct csv_pair {
  std::string username;
  std::string password;
};

std::vector<csv_pair> default_credentials() {
  std::istringstream lines(test::read_text(test::shared_data_dir() / "credentials/default-credentials.csv"));
  std::string line;
  std::getline(lines, line);  // header
  std::vector<csv_pair> pairs;
  std::vector<std::string> fields;
  while (std::getline(lines, line)) {
    BOOST_TEST_REQUIRE(split_csv_line(strip_line_ending(line), fields).has_value());
    BOOST_TEST_REQUIRE(fields.size() == 3U);
    pairs.push_back({fields[1], fields[2]});
  }
  return pairs;
}

std::array<std::uint8_t, 8> password_key(std::string_view password) {
  const auto digest = crypto::sha1(password);
  std::array<std::uint8_t, 8> out{};
  std::copy_n(digest.begin(), out.size(), out.begin());
  return out;
}

fs::path build_credentials(const fs::path& out, const crypto::credential_hasher& hasher,
                           const std::vector<csv_pair>& pairs, std::size_t run_bytes) {
  hash_set_build_options options;
  options.kind = hash_set_kind::credentials;
  options.key_id = hasher.key_id();
  options.run_bytes = run_bytes;
  auto builder = hash_set_builder::create(out, options);
  BOOST_TEST_REQUIRE(builder.has_value());
  for (const auto& p : pairs) {
    const auto h = hasher.hash(p.username, p.password);
    BOOST_TEST_REQUIRE(builder->add(h).has_value());
  }
  auto header = builder->finish();
  BOOST_TEST_REQUIRE(header.has_value(), test::error_text(header));
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(lists_hash_set)

BOOST_AUTO_TEST_CASE(default_credentials_flag_and_other_passwords_do_not) {
  test::temp_directory dir;
  const auto pairs = default_credentials();
  BOOST_TEST(pairs.size() == 3766U);
  const crypto::credential_hasher hasher(test_master(1));
  // 16 KiB runs force dozens of run files through the k-way merge.
  const auto path = build_credentials(dir.path() / "creds.set", hasher, pairs, 16 * 1024);
  for (const auto& entry : fs::directory_iterator(dir.path())) {
    BOOST_TEST(entry.path().filename() == "creds.set", "no run or temp file left: " + entry.path().string());
  }
  auto set = hash_set_file::open(path, hash_set_kind::credentials);
  BOOST_TEST_REQUIRE(set.has_value(), test::error_text(set));
  BOOST_TEST(set->verify_checksum().has_value());
  BOOST_TEST(set->header().key_id == hasher.key_id());
  std::set<std::pair<std::string, std::string>> known;
  for (const auto& p : pairs) known.emplace(crypto::normalize_username(p.username), p.password);
  BOOST_TEST(set->entries() == known.size());

  std::size_t missed = 0;
  std::size_t false_hits = 0;
  std::size_t negatives = 0;
  for (const auto& p : pairs) {
    if (!set->contains(hasher.hash(p.username, p.password))) ++missed;
    // Normalization: case and surrounding whitespace of the username do not matter.
    std::string shouty = "  " + p.username + "\t";
    for (auto& c : shouty) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (!set->contains(hasher.hash(shouty, p.password))) ++missed;
    for (const std::string& other : {p.password + "!", std::string("correct horse battery staple"), p.password + " "}) {
      if (known.count({crypto::normalize_username(p.username), other}) != 0) continue;
      ++negatives;
      if (set->contains(hasher.hash(p.username, other))) ++false_hits;
    }
  }
  BOOST_TEST(missed == 0U);
  BOOST_TEST(negatives > 10000U);
  BOOST_TEST(false_hits == 0U);

  // The same pairs under another master key are different hashes.
  const crypto::credential_hasher other(test_master(2));
  BOOST_TEST(other.key_id() != hasher.key_id());
  std::size_t cross = 0;
  for (const auto& p : pairs) cross += set->contains(other.hash(p.username, p.password)) ? 1U : 0U;
  BOOST_TEST(cross == 0U);
}

// `cp new.set serving.set` truncates and rewrites the serving file's inode under its mapping.
// A lookup past the new end of file must not end the process (SIGBUS): the mapping turns to zero
// pages, every lookup answers false, and damaged() tells the registry to reload.
BOOST_AUTO_TEST_CASE(a_set_file_truncated_under_its_mapping_answers_false_and_is_damaged) {
  test::temp_directory dir;
  const auto pairs = default_credentials();
  const crypto::credential_hasher hasher(test_master(1));
  const auto path = build_credentials(dir.path() / "creds.set", hasher, pairs, 1 << 20);
  auto set = hash_set_file::open(path, hash_set_kind::credentials);
  BOOST_TEST_REQUIRE(set.has_value(), test::error_text(set));
  BOOST_TEST(!set->damaged());
  BOOST_TEST(set->contains(hasher.hash(pairs[0].username, pairs[0].password)));

  BOOST_TEST_REQUIRE(::truncate(path.c_str(), 0) == 0);
  std::size_t hits = 0;
  for (const auto& p : pairs) hits += set->contains(hasher.hash(p.username, p.password)) ? 1U : 0U;
  BOOST_TEST(hits == 0U);
  BOOST_TEST(set->damaged());

  // A copy written back in place does not come back through the damaged mapping either: the
  // registry reloads the file instead.
  build_credentials(dir.path() / "again.set", hasher, pairs, 1 << 20);
  fs::copy_file(dir.path() / "again.set", path, fs::copy_options::overwrite_existing);
  BOOST_TEST(!set->contains(hasher.hash(pairs[0].username, pairs[0].password)));
  auto reopened = hash_set_file::open(path, hash_set_kind::credentials);
  BOOST_TEST_REQUIRE(reopened.has_value(), test::error_text(reopened));
  BOOST_TEST(!reopened->damaged());
  BOOST_TEST(reopened->contains(hasher.hash(pairs[0].username, pairs[0].password)));
}

// The handler takes only faults inside guarded mappings: any other SIGBUS, a fault elsewhere or
// a signal sent with kill, still ends the process (or goes to the sanitizer's handler, which
// reports and exits). Each case runs in a process of its own (mapping_guard_probe.cpp).
BOOST_AUTO_TEST_CASE(only_faults_inside_a_guarded_mapping_are_survived) {
  const char* probe = std::getenv("CALLSIGN_MAPPING_GUARD_PROBE");
  BOOST_TEST_REQUIRE(probe != nullptr, "CALLSIGN_MAPPING_GUARD_PROBE is not set (tests/storage/CMakeLists.txt sets it)");
  auto run = [&](const char* mode) {
    test::temp_directory dir;
    const std::string dir_text = dir.path().string();
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);  // the sanitizer's report
    char* const args[] = {const_cast<char*>(probe), const_cast<char*>(mode), const_cast<char*>(dir_text.c_str()),
                          nullptr};
    pid_t child = 0;
    const int spawned = posix_spawn(&child, probe, &actions, nullptr, args, environ);
    posix_spawn_file_actions_destroy(&actions);
    BOOST_TEST_REQUIRE(spawned == 0);
    int status = 0;
    BOOST_TEST_REQUIRE(::waitpid(child, &status, 0) == child);
    return status;
  };
  const int guarded = run("guarded");
  BOOST_TEST((WIFEXITED(guarded) && WEXITSTATUS(guarded) == 0), "guarded: status " << guarded);
  for (const char* mode : {"unguarded", "sent"}) {
    const int status = run(mode);
    // Killed by the SIGBUS, or by the sanitizer's report: an abort under abort_on_error=1 (what
    // ./tools/test sets), else exit 1. Swallowed, the probe exits 0.
    const bool killed = WIFSIGNALED(status) && (WTERMSIG(status) == SIGBUS || WTERMSIG(status) == SIGABRT);
    const bool reported = WIFEXITED(status) && WEXITSTATUS(status) != 0 && WEXITSTATUS(status) != 3;
    BOOST_TEST((killed || reported), mode << ": status " << status);
  }
}

BOOST_AUTO_TEST_CASE(hibp_sample_with_real_sha1s) {
  test::temp_directory dir;
  std::vector<std::string> exposed;
  std::string text;
  for (int i = 0; i < 50000; ++i) {
    exposed.push_back("pw-" + std::to_string(i * 7919));
    const auto digest = crypto::sha1(exposed.back());
    std::string hex = crypto::hex_encode(digest);
    for (auto& c : hex) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    text += hex + ":" + std::to_string(i % 977 + 1) + "\r\n";
  }
  // The well-known first entry of every HIBP download.
  BOOST_TEST(crypto::hex_encode(crypto::sha1("password")) == "5baa61e4c9b93f3f0682250b6cf8331b7ee68fd8");
  text += "5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8:10434004\n";

  hash_set_build_options options;
  options.kind = hash_set_kind::passwords;
  options.run_bytes = 64 * 1024;
  auto builder = hash_set_builder::create(dir.path() / "pwned.set", options);
  BOOST_TEST_REQUIRE(builder.has_value());
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    auto key = parse_hibp_line(strip_line_ending(line));
    BOOST_TEST_REQUIRE(key.has_value(), test::error_text(key));
    BOOST_TEST_REQUIRE(builder->add(*key).has_value());
  }
  BOOST_TEST(builder->runs_written() > 1U);
  BOOST_TEST_REQUIRE(builder->finish().has_value());
  auto set = hash_set_file::open(dir.path() / "pwned.set", hash_set_kind::passwords);
  BOOST_TEST_REQUIRE(set.has_value(), test::error_text(set));
  BOOST_TEST(set->verify_checksum().has_value());
  BOOST_TEST(set->entries() == 50001U);
  std::size_t missed = 0;
  for (const auto& pw : exposed) missed += set->contains(password_key(pw)) ? 0U : 1U;
  BOOST_TEST(missed == 0U);
  BOOST_TEST(set->contains(password_key("password")));
  std::size_t false_hits = 0;
  for (int i = 0; i < 50000; ++i) false_hits += set->contains(password_key("not-" + std::to_string(i))) ? 1U : 0U;
  BOOST_TEST(false_hits == 0U);
  // A credential-kind open of a password set is refused.
  BOOST_TEST(!hash_set_file::open(dir.path() / "pwned.set", hash_set_kind::credentials).has_value());
}

BOOST_AUTO_TEST_CASE(hibp_line_errors) {
  BOOST_TEST(parse_hibp_line("5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8:1").has_value());
  BOOST_TEST(!parse_hibp_line("5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8").has_value());
  BOOST_TEST(!parse_hibp_line("5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD:1").has_value());
  BOOST_TEST(!parse_hibp_line("5BAA61E4C9B93F3F0682250B6CF8331B7EE68FDX:1").has_value());
  BOOST_TEST(!parse_hibp_line("5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8:").has_value());
  BOOST_TEST(!parse_hibp_line("5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8:12a").has_value());
}

BOOST_AUTO_TEST_CASE(pair_and_csv_splitting) {
  auto pair = split_pair_line("admin:pa:ss:word");
  BOOST_TEST_REQUIRE(pair.has_value());
  BOOST_TEST(pair->username == "admin");
  BOOST_TEST(pair->password == "pa:ss:word");
  BOOST_TEST(!split_pair_line("no colon here").has_value());
  std::vector<std::string> fields;
  BOOST_TEST_REQUIRE(split_csv_line(R"(vendor,"a,b","say ""hi""",,<blank>)", fields).has_value());
  BOOST_TEST(fields.size() == 5U);
  BOOST_TEST(fields[1] == "a,b");
  BOOST_TEST(fields[2] == "say \"hi\"");
  BOOST_TEST(fields[3].empty());
  BOOST_TEST(fields[4] == "<blank>");
  BOOST_TEST(!split_csv_line(R"(a,"unclosed)", fields).has_value());
  BOOST_TEST(strip_line_ending("x \r\n") == "x ");
}

BOOST_AUTO_TEST_CASE(bad_set_files_are_refused_at_open_or_verify) {
  test::temp_directory dir;
  const crypto::credential_hasher hasher(test_master(3));
  std::vector<csv_pair> pairs;
  for (int i = 0; i < 1000; ++i) pairs.push_back({"user" + std::to_string(i), "pw" + std::to_string(i)});
  const auto good = build_credentials(dir.path() / "good.set", hasher, pairs, 1 << 20);
  const std::string bytes = test::read_text(good);
  BOOST_TEST(bytes.size() == hash_set_header_size + 1000U * 16U + hash_set_pages(1000, 16) * 8U);

  auto refused = [&](const std::string& name, const std::string& content, const std::string& expect) {
    test::write_text(dir.path() / name, content);
    auto opened = hash_set_file::open(dir.path() / name, hash_set_kind::credentials);
    std::string message = opened ? std::string() : opened.error().message;
    if (opened) {
      auto verified = opened->verify_checksum();
      message = verified ? std::string() : verified.error().message;
    }
    BOOST_TEST(message.find(expect) != std::string::npos, name + ": " + message);
  };
  std::string wrong_magic = bytes;
  wrong_magic[0] = 'X';
  refused("magic.set", wrong_magic, "bad magic");
  refused("truncated.set", bytes.substr(0, bytes.size() - 5), "truncated");
  refused("short.set", bytes.substr(0, 40), "header");
  refused("empty.set", "", "header");
  std::string bad_version = bytes;
  bad_version[8] = 9;
  refused("version.set", bad_version, "version");
  std::string flipped = bytes;
  flipped[hash_set_header_size + 100] = static_cast<char>(flipped[hash_set_header_size + 100] ^ 1);
  refused("flipped.set", flipped, "");  // either out of order or checksum
  {
    test::write_text(dir.path() / "flipped2.set", flipped);
    auto opened = hash_set_file::open(dir.path() / "flipped2.set", hash_set_kind::credentials);
    BOOST_TEST_REQUIRE(opened.has_value());
    BOOST_TEST(!opened->verify_checksum().has_value());
  }
  refused("text.set", "1.2.3.4\n5.6.7.8\n", "header");
  BOOST_TEST((hash_set_file::open(dir.path() / "missing.set", hash_set_kind::credentials).error().kind ==
              error_kind::not_found));
}

BOOST_AUTO_TEST_CASE(empty_set_builds_and_matches_nothing) {
  test::temp_directory dir;
  hash_set_build_options options;
  options.kind = hash_set_kind::passwords;
  auto builder = hash_set_builder::create(dir.path() / "empty.set", options);
  BOOST_TEST_REQUIRE(builder.has_value());
  BOOST_TEST_REQUIRE(builder->finish().has_value());
  auto set = hash_set_file::open(dir.path() / "empty.set", hash_set_kind::passwords);
  BOOST_TEST_REQUIRE(set.has_value(), test::error_text(set));
  BOOST_TEST(set->entries() == 0U);
  BOOST_TEST(set->verify_checksum().has_value());
  BOOST_TEST(!set->contains(password_key("password")));
}

BOOST_AUTO_TEST_SUITE_END()
