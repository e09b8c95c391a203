#include "storage/key_ring_file.hpp"

#include <sys/stat.h>

#include <boost/test/unit_test.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace fs = std::filesystem;
using namespace callsign;

namespace {

// Boost evaluates a check's message even when the check passes, so read the error lazily.
template <class T>
std::string error_text(const callsign::result<T>& r) {
  return r.has_value() ? std::string() : r.error().message;
}

// A fresh directory per test case, removed afterwards (hermetic; no shared paths).
struct temp_dir {
  fs::path path;
  temp_dir() {
    std::string pattern = (fs::temp_directory_path() / "callsign-key-ring-XXXXXX").string();
    BOOST_TEST_REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    path = pattern;
  }
  ~temp_dir() {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
};

unsigned mode_of(const fs::path& path) {
  struct stat info {};
  BOOST_TEST_REQUIRE(::stat(path.c_str(), &info) == 0);
  return info.st_mode & 07777U;
}

void write_file(const fs::path& path, std::string_view text, mode_t mode) {
  std::ofstream(path) << text;
  BOOST_TEST_REQUIRE(::chmod(path.c_str(), mode) == 0);
}

std::size_t entries_in(const fs::path& dir) {
  std::size_t count = 0;
  for ([[maybe_unused]] const auto& entry : fs::directory_iterator(dir)) ++count;
  return count;
}

constexpr std::string_view valid_ring = "1 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n";

}  // namespace

BOOST_AUTO_TEST_SUITE(key_ring_file_tests)

BOOST_AUTO_TEST_CASE(creates_a_0600_file_in_a_0700_directory_and_reloads_it) {
  const temp_dir dir;
  const fs::path data_dir = dir.path / "data" / "nested";
  const fs::path file = data_dir / "master.key";

  const auto created = storage::load_or_create_key_ring(file);
  BOOST_TEST_REQUIRE(created.has_value(), error_text(created));
  BOOST_TEST(created->current().version == 1U);
  BOOST_TEST(mode_of(file) == 0600U);
  BOOST_TEST(mode_of(data_dir) == 0700U);
  BOOST_TEST(mode_of(dir.path / "data") == 0700U);
  BOOST_TEST(entries_in(data_dir) == 1U);  // no temporary file left behind

  const auto loaded = storage::load_key_ring(file);
  BOOST_TEST_REQUIRE(loaded.has_value(), error_text(loaded));
  BOOST_TEST((loaded->current().bytes == created->current().bytes));

  const auto again = storage::load_or_create_key_ring(file);  // existing file: no new key
  BOOST_TEST_REQUIRE(again.has_value());
  BOOST_TEST((again->current().bytes == created->current().bytes));
}

BOOST_AUTO_TEST_CASE(missing_file_is_not_found) {
  const temp_dir dir;
  const auto loaded = storage::load_key_ring(dir.path / "master.key");
  BOOST_TEST_REQUIRE(!loaded.has_value());
  BOOST_TEST((loaded.error().kind == error_kind::not_found));
  BOOST_TEST(entries_in(dir.path) == 0U);  // load never creates
}

BOOST_AUTO_TEST_CASE(refuses_group_or_other_access) {
  const temp_dir dir;
  const fs::path file = dir.path / "master.key";
  for (mode_t mode : {0644U, 0640U, 0604U, 0660U, 0601U}) {
    write_file(file, valid_ring, mode);
    const auto loaded = storage::load_key_ring(file);
    BOOST_TEST_REQUIRE(!loaded.has_value());
    BOOST_TEST((loaded.error().kind == error_kind::forbidden));
    BOOST_TEST(loaded.error().message.find("chmod 600 " + file.string()) != std::string::npos, loaded.error().message);
    // load_or_create must refuse too, never overwrite an existing ring.
    BOOST_TEST(!storage::load_or_create_key_ring(file).has_value());
  }
  write_file(file, valid_ring, 0600);
  BOOST_TEST(storage::load_key_ring(file).has_value());
  write_file(file, valid_ring, 0400);
  BOOST_TEST(storage::load_key_ring(file).has_value());
}

BOOST_AUTO_TEST_CASE(refuses_garbage_naming_the_line) {
  const temp_dir dir;
  const fs::path file = dir.path / "master.key";
  write_file(file, "# comment\n" + std::string(valid_ring) + "2 not-a-key\n", 0600);
  const auto loaded = storage::load_key_ring(file);
  BOOST_TEST_REQUIRE(!loaded.has_value());
  BOOST_TEST((loaded.error().kind == error_kind::invalid_input));
  BOOST_TEST(loaded.error().message.find("line 3") != std::string::npos, loaded.error().message);
  BOOST_TEST(loaded.error().message.find("000102") == std::string::npos);
  BOOST_TEST(!storage::load_or_create_key_ring(file).has_value());
}

BOOST_AUTO_TEST_CASE(refuses_a_directory) {
  const temp_dir dir;
  fs::create_directory(dir.path / "master.key");
  ::chmod((dir.path / "master.key").c_str(), 0700);
  const auto loaded = storage::load_key_ring(dir.path / "master.key");
  BOOST_TEST_REQUIRE(!loaded.has_value());
  BOOST_TEST(loaded.error().message.find("not a regular file") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(save_replaces_atomically_with_0600) {
  const temp_dir dir;
  const fs::path file = dir.path / "master.key";
  const auto first = storage::load_or_create_key_ring(file);
  BOOST_TEST_REQUIRE(first.has_value());

  const auto rotated = first->rotated();
  BOOST_TEST_REQUIRE(rotated.has_value());
  const auto saved = storage::save_key_ring(file, *rotated);
  BOOST_TEST_REQUIRE(saved.has_value(), error_text(saved));
  BOOST_TEST(mode_of(file) == 0600U);
  BOOST_TEST(entries_in(dir.path) == 1U);

  const auto loaded = storage::load_key_ring(file);
  BOOST_TEST_REQUIRE(loaded.has_value());
  BOOST_TEST((loaded->versions() == std::vector<std::uint32_t>{1, 2}));
  BOOST_TEST((loaded->find(1)->bytes == first->current().bytes));
  BOOST_TEST((loaded->current().bytes == rotated->current().bytes));
}

BOOST_AUTO_TEST_CASE(save_ignores_a_permissive_umask) {
  const temp_dir dir;
  const fs::path file = dir.path / "fresh" / "master.key";
  const auto ring = crypto::key_ring::generate();
  BOOST_TEST_REQUIRE(ring.has_value());
  const mode_t previous = ::umask(0);
  const auto saved = storage::save_key_ring(file, *ring);
  ::umask(previous);
  BOOST_TEST_REQUIRE(saved.has_value(), error_text(saved));
  BOOST_TEST(mode_of(file) == 0600U);
  BOOST_TEST(mode_of(file.parent_path()) == 0700U);
}

// The rename fails (the target is a non-empty directory); the temporary file must not stay.
BOOST_AUTO_TEST_CASE(failed_save_leaves_no_temporary_file) {
  const temp_dir dir;
  const fs::path target = dir.path / "master.key";
  fs::create_directories(target / "occupied");
  const auto ring = crypto::key_ring::generate();
  BOOST_TEST_REQUIRE(ring.has_value());
  const auto saved = storage::save_key_ring(target, *ring);
  BOOST_TEST_REQUIRE(!saved.has_value());
  BOOST_TEST((saved.error().kind == error_kind::unavailable));
  BOOST_TEST(entries_in(dir.path) == 1U);
  BOOST_TEST(fs::is_directory(target / "occupied"));
}

BOOST_AUTO_TEST_SUITE_END()
