#include "storage/private_file.hpp"

#include <sys/stat.h>

#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <fstream>
#include <string>

#include "support/temp_directory.hpp"

namespace fs = std::filesystem;
using namespace callsign;

namespace {

template <class T>
std::string error_text(const callsign::result<T>& r) {
  return r.has_value() ? std::string() : r.error().message;
}

unsigned mode_of(const fs::path& path) {
  struct stat info {};
  BOOST_TEST_REQUIRE(::stat(path.c_str(), &info) == 0);
  return info.st_mode & 07777U;
}

void write_file(const fs::path& path, const std::string& text, mode_t mode) {
  std::ofstream(path, std::ios::binary) << text;
  BOOST_TEST_REQUIRE(::chmod(path.c_str(), mode) == 0);
}

std::size_t entries_in(const fs::path& dir) {
  std::size_t count = 0;
  for ([[maybe_unused]] const auto& entry : fs::directory_iterator(dir)) ++count;
  return count;
}

result<std::string> make_secret() {
  return std::string("\x00\x01secret\xff", 9);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(private_file_tests)

BOOST_AUTO_TEST_CASE(creates_once_with_owner_only_modes_and_keeps_binary_content) {
  const test::temp_directory dir;
  const fs::path file = dir.path() / "a" / "b" / "jwt.key";
  int calls = 0;
  const auto counting = [&]() -> result<std::string> {
    ++calls;
    return make_secret();
  };
  const auto created = storage::read_or_create_private_file(file, 64, counting);
  BOOST_TEST_REQUIRE(created.has_value(), error_text(created));
  BOOST_TEST(*created == std::string("\x00\x01secret\xff", 9));
  BOOST_TEST(mode_of(file) == 0600U);
  BOOST_TEST(mode_of(file.parent_path()) == 0700U);
  BOOST_TEST(mode_of(dir.path() / "a") == 0700U);
  BOOST_TEST(entries_in(file.parent_path()) == 1U);

  const auto again = storage::read_or_create_private_file(file, 64, counting);
  BOOST_TEST_REQUIRE(again.has_value());
  BOOST_TEST(*again == *created);
  BOOST_TEST(calls == 1);
}

BOOST_AUTO_TEST_CASE(read_refuses_missing_open_oversize_and_non_regular_files) {
  const test::temp_directory dir;
  const fs::path file = dir.path() / "secret";
  const auto missing = storage::read_private_file(file, 64);
  BOOST_TEST_REQUIRE(!missing.has_value());
  BOOST_TEST((missing.error().kind == error_kind::not_found));

  write_file(file, "0123456789", 0640);
  const auto open = storage::read_private_file(file, 64);
  BOOST_TEST_REQUIRE(!open.has_value());
  BOOST_TEST((open.error().kind == error_kind::forbidden));
  BOOST_TEST(open.error().message.find("chmod 600 " + file.string()) != std::string::npos);
  BOOST_TEST(open.error().message.find("0123") == std::string::npos);
  // Never overwritten by the create path either.
  BOOST_TEST(!storage::read_or_create_private_file(file, 64, make_secret).has_value());

  write_file(file, "0123456789", 0600);
  BOOST_TEST(storage::read_private_file(file, 64).value() == "0123456789");
  const auto large = storage::read_private_file(file, 9);
  BOOST_TEST_REQUIRE(!large.has_value());
  BOOST_TEST((large.error().kind == error_kind::invalid_input));

  fs::create_directory(dir.path() / "dir");
  ::chmod((dir.path() / "dir").c_str(), 0700);
  BOOST_TEST(!storage::read_private_file(dir.path() / "dir", 64).has_value());
}

BOOST_AUTO_TEST_CASE(failed_generation_creates_nothing) {
  const test::temp_directory dir;
  const auto failed = storage::read_or_create_private_file(dir.path() / "secret", 64, []() -> result<std::string> {
    return make_error(error_kind::unavailable, "no randomness");
  });
  BOOST_TEST_REQUIRE(!failed.has_value());
  BOOST_TEST(failed.error().message == "no randomness");
  BOOST_TEST(entries_in(dir.path()) == 0U);
}

BOOST_AUTO_TEST_CASE(replace_is_atomic_and_owner_only_even_with_umask_zero) {
  const test::temp_directory dir;
  const fs::path file = dir.path() / "fresh" / "secret";
  const mode_t previous = ::umask(0);
  const auto first = storage::replace_private_file(file, "one");
  const auto second = storage::replace_private_file(file, "two");
  ::umask(previous);
  BOOST_TEST_REQUIRE(first.has_value(), error_text(first));
  BOOST_TEST_REQUIRE(second.has_value(), error_text(second));
  BOOST_TEST(mode_of(file) == 0600U);
  BOOST_TEST(mode_of(file.parent_path()) == 0700U);
  BOOST_TEST(entries_in(file.parent_path()) == 1U);
  BOOST_TEST(storage::read_private_file(file, 64).value() == "two");
}

BOOST_AUTO_TEST_SUITE_END()
