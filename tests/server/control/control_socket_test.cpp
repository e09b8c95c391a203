// The control socket over a real Unix socket in a temp dir, and the backup request handled by
// the plain function behind it.
#include "server/control/control_socket.hpp"

#include <sys/stat.h>

#include <boost/test/unit_test.hpp>
#include <string>

#include "support/temp_directory.hpp"

using namespace callsign;

BOOST_AUTO_TEST_SUITE(control_socket_suite)

BOOST_AUTO_TEST_CASE(one_request_line_in_one_reply_line_out) {
  test::temp_directory dir;
  const auto path = dir.path() / "control.sock";
  std::string seen;
  auto socket = server::control_socket::start(path, [&](std::string_view request) {
    seen = std::string(request);
    return "ok\techo " + std::string(request);
  });
  BOOST_REQUIRE_MESSAGE(socket, (socket ? std::string() : socket.error().message));
  struct stat info {};
  BOOST_REQUIRE(::stat(path.c_str(), &info) == 0);
  BOOST_TEST((info.st_mode & 0777U) == 0600U);

  auto reply = server::send_control_request(path, "backup\t/somewhere", std::chrono::seconds(10));
  BOOST_REQUIRE_MESSAGE(reply, (reply ? std::string() : reply.error().message));
  BOOST_TEST(*reply == "ok\techo backup\t/somewhere");
  BOOST_TEST(seen == "backup\t/somewhere");
  auto second = server::send_control_request(path, "again", std::chrono::seconds(10));
  BOOST_REQUIRE(second);
  BOOST_TEST(*second == "ok\techo again");

  (*socket)->stop();
  BOOST_TEST(!std::filesystem::exists(path));
  auto gone = server::send_control_request(path, "backup", std::chrono::seconds(10));
  BOOST_REQUIRE(!gone);
  BOOST_TEST((gone.error().kind == error_kind::not_found));
}

BOOST_AUTO_TEST_CASE(a_stale_socket_file_is_replaced) {
  test::temp_directory dir;
  const auto path = dir.path() / "control.sock";
  {
    auto first = server::control_socket::start(path, [](std::string_view) { return std::string("ok\tfirst"); });
    BOOST_REQUIRE(first);
  }
  std::FILE* stale = std::fopen(path.c_str(), "w");  // what a killed server may leave behind
  BOOST_REQUIRE(stale != nullptr);
  std::fclose(stale);
  auto second = server::control_socket::start(path, [](std::string_view) { return std::string("ok\tsecond"); });
  BOOST_REQUIRE(second);
  auto reply = server::send_control_request(path, "x", std::chrono::seconds(10));
  BOOST_REQUIRE(reply);
  BOOST_TEST(*reply == "ok\tsecond");
}

// sun_path holds 107 bytes; a data dir deeper than that is reached through its directory's
// descriptor, for the server's bind and the CLI's connect alike.
BOOST_AUTO_TEST_CASE(a_path_longer_than_a_unix_socket_address_still_works) {
  test::temp_directory dir;
  const auto deep = dir.path() / std::string(90, 'd') / std::string(90, 'e');
  std::filesystem::create_directories(deep);
  const auto path = deep / "control.sock";
  BOOST_REQUIRE(path.string().size() > 200);
  auto socket = server::control_socket::start(path, [](std::string_view request) {
    return "ok\tlong " + std::string(request);
  });
  BOOST_REQUIRE_MESSAGE(socket, (socket ? std::string() : socket.error().message));
  struct stat info {};
  BOOST_REQUIRE(::stat(path.c_str(), &info) == 0);  // the socket sits where the path says
  BOOST_TEST(S_ISSOCK(info.st_mode));
  BOOST_TEST((info.st_mode & 0777U) == 0600U);
  auto reply = server::send_control_request(path, "backup", std::chrono::seconds(10));
  BOOST_REQUIRE_MESSAGE(reply, (reply ? std::string() : reply.error().message));
  BOOST_TEST(*reply == "ok\tlong backup");
  (*socket)->stop();
  BOOST_TEST(!std::filesystem::exists(path));
  auto gone = server::send_control_request(path, "backup", std::chrono::seconds(10));
  BOOST_REQUIRE(!gone);
  BOOST_TEST((gone.error().kind == error_kind::not_found));
}

BOOST_AUTO_TEST_CASE(a_file_name_too_long_for_a_unix_socket_is_refused) {
  test::temp_directory dir;
  const auto path = dir.path() / std::string(120, 'x');
  auto socket = server::control_socket::start(path, [](std::string_view) { return std::string(); });
  BOOST_REQUIRE(!socket);
  BOOST_TEST((socket.error().kind == error_kind::invalid_input));
  auto missing = server::send_control_request(dir.path() / std::string(200, 'y') / "control.sock", "x",
                                              std::chrono::seconds(1));
  BOOST_REQUIRE(!missing);  // no such directory: nothing to connect to
}

BOOST_AUTO_TEST_SUITE_END()
