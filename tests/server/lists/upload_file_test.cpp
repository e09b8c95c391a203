// upload_file, the Asio-free sink of a streamed list upload: chunks to disk, the limit, the
// SHA-256, fsync, and nothing left behind, with real files.
#include "server/lists/upload_file.hpp"

#include <sys/resource.h>
#include <sys/stat.h>

#include <boost/test/unit_test.hpp>
#include <csignal>
#include <fstream>
#include <sstream>
#include <string>

#include "crypto/hex.hpp"
#include "crypto/sha256.hpp"
#include "support/temp_directory.hpp"

using namespace callsign;
using namespace callsign::server;
namespace fs = std::filesystem;

namespace {

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::size_t files_in(const fs::path& dir) {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++n;
  return n;
}

template <class T>
std::string why(const result<T>& r) {
  return r.has_value() ? std::string() : r.error().message;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(upload_file_suite)

BOOST_AUTO_TEST_CASE(chunks_are_appended_hashed_and_synced) {
  test::temp_directory dir;
  const auto path = dir.path() / "list.upload-1";
  auto file = upload_file::create(path, 1 << 20);
  BOOST_TEST_REQUIRE(file.has_value(), why(file));
  BOOST_TEST(fs::exists(path));
  std::string expected;
  for (int i = 0; i < 100; ++i) {
    const std::string chunk = "10.0." + std::to_string(i) + ".0/24\n";
    BOOST_TEST_REQUIRE(file->write(chunk).has_value());
    expected += chunk;
  }
  BOOST_TEST(file->bytes() == expected.size());
  auto stored = file->finish();
  BOOST_TEST_REQUIRE(stored.has_value(), why(stored));
  BOOST_TEST(!file->is_open());
  BOOST_TEST(stored->path == path);
  BOOST_TEST(stored->bytes == expected.size());
  BOOST_TEST(stored->sha256 == crypto::hex_encode(crypto::sha256(expected)));
  BOOST_TEST(read_text(path) == expected);
  struct stat st {};
  BOOST_TEST_REQUIRE(::stat(path.c_str(), &st) == 0);
  BOOST_TEST((st.st_mode & 0600U) == 0600U);
  BOOST_TEST((st.st_mode & 0022U) == 0U);  // nobody else may change it before it is installed
  // Finished: the file is the caller's now; neither abort() nor destruction removes it.
  file->abort();
  BOOST_TEST(fs::exists(path));
}

BOOST_AUTO_TEST_CASE(abort_and_destruction_remove_an_unfinished_file) {
  test::temp_directory dir;
  const auto aborted = dir.path() / "a.upload";
  {
    auto file = upload_file::create(aborted, 1000);
    BOOST_TEST_REQUIRE(file.has_value());
    BOOST_TEST_REQUIRE(file->write("1.2.3.4\n").has_value());
    file->abort();
    BOOST_TEST(!fs::exists(aborted));
    BOOST_TEST(!file->write("5.6.7.8\n").has_value());  // closed
    BOOST_TEST(!file->finish().has_value());
    file->abort();  // twice is harmless
  }
  const auto dropped = dir.path() / "b.upload";
  {
    auto file = upload_file::create(dropped, 1000);
    BOOST_TEST_REQUIRE(file.has_value());
    BOOST_TEST_REQUIRE(file->write("1.2.3.4\n").has_value());
    upload_file moved = std::move(file).value();  // the moved-from object owns nothing
    BOOST_TEST(moved.is_open());
  }
  BOOST_TEST(!fs::exists(dropped));
  BOOST_TEST(files_in(dir.path()) == 0U);
}

BOOST_AUTO_TEST_CASE(the_limit_counts_every_byte_and_removes_the_file) {
  test::temp_directory dir;
  const auto path = dir.path() / "c.upload";
  auto file = upload_file::create(path, 10);
  BOOST_TEST_REQUIRE(file.has_value());
  BOOST_TEST_REQUIRE(file->write("12345").has_value());
  BOOST_TEST_REQUIRE(file->write("67890").has_value());  // exactly the limit
  BOOST_TEST(!file->exceeded_limit());
  auto over = file->write("x");
  BOOST_TEST_REQUIRE(!over.has_value());
  BOOST_TEST(file->exceeded_limit());
  BOOST_TEST(!fs::exists(path));
  BOOST_TEST(!file->finish().has_value());

  // One chunk larger than the whole limit: nothing of it is written.
  const auto big = dir.path() / "d.upload";
  auto second = upload_file::create(big, 4);
  BOOST_TEST_REQUIRE(second.has_value());
  BOOST_TEST(!second->write("12345").has_value());
  BOOST_TEST(second->exceeded_limit());
  BOOST_TEST(second->bytes() == 0U);
  BOOST_TEST(files_in(dir.path()) == 0U);
}

BOOST_AUTO_TEST_CASE(an_existing_file_is_never_reused_or_removed) {
  test::temp_directory dir;
  const auto path = dir.path() / "e.upload";
  std::ofstream(path) << "someone else's file";
  auto file = upload_file::create(path, 1000);
  BOOST_TEST(!file.has_value());
  BOOST_TEST((file.error().kind == error_kind::unavailable));
  BOOST_TEST(read_text(path) == "someone else's file");
  BOOST_TEST(!upload_file::create(dir.path() / "missing-dir" / "f.upload", 1000).has_value());
}

BOOST_AUTO_TEST_CASE(a_write_the_disk_refuses_removes_the_file) {
  // RLIMIT_FSIZE makes write() fail with EFBIG, as a full disk fails with ENOSPC.
  test::temp_directory dir;
  const auto path = dir.path() / "g.upload";
  auto file = upload_file::create(path, 1 << 20);
  BOOST_TEST_REQUIRE(file.has_value());
  rlimit saved{};
  BOOST_TEST_REQUIRE(::getrlimit(RLIMIT_FSIZE, &saved) == 0);
  auto* previous = std::signal(SIGXFSZ, SIG_IGN);
  rlimit small = saved;
  small.rlim_cur = 4096;
  BOOST_TEST_REQUIRE(::setrlimit(RLIMIT_FSIZE, &small) == 0);
  const std::string chunk(8192, 'x');
  auto written = file->write(chunk);
  ::setrlimit(RLIMIT_FSIZE, &saved);
  std::signal(SIGXFSZ, previous);
  BOOST_TEST_REQUIRE(!written.has_value());
  BOOST_TEST((written.error().kind == error_kind::unavailable));
  BOOST_TEST(!file->exceeded_limit());
  BOOST_TEST(!fs::exists(path));
}

BOOST_AUTO_TEST_SUITE_END()
