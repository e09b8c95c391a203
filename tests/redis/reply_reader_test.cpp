// RESP without a server: commands encode as arrays of bulk strings, and hiredis's redisReader
// output converts to redis::reply values whatever way the bytes are split; a protocol error is
// an error, not a crash.
#include <boost/test/unit_test.hpp>

#include "reply_reader.hpp"
#include "resp_encoding.hpp"

using namespace callsign;
using redis::reply;

namespace {
// A string literal with its NUL bytes, without counting them by hand.
template <std::size_t n>
std::string bytes_of(const char (&literal)[n]) {
  return std::string(literal, n - 1);
}

std::vector<reply> read_all(const std::string& bytes, std::size_t chunk) {
  redis::reply_reader reader;
  std::vector<reply> out;
  for (std::size_t at = 0; at < bytes.size(); at += chunk) {
    BOOST_REQUIRE(reader.feed(bytes.data() + at, std::min(chunk, bytes.size() - at)));
    while (true) {
      auto next = reader.next();
      BOOST_REQUIRE(next);
      if (!*next) break;
      out.push_back(std::move(**next));
    }
  }
  return out;
}
}  // namespace

BOOST_AUTO_TEST_SUITE(resp_suite)

BOOST_AUTO_TEST_CASE(commands_encode_as_bulk_string_arrays) {
  std::string out;
  redis::append_command(out, {"SET", std::string("k\0", 2), ""});
  BOOST_TEST(out == bytes_of("*3\r\n$3\r\nSET\r\n$2\r\nk\0\r\n$0\r\n\r\n"));
}

BOOST_AUTO_TEST_CASE(error_code_is_the_first_word_only) {
  reply error{reply::kind::error, 0, "WRONGPASS invalid username-password pair", {}};
  BOOST_TEST(redis::error_code(error) == "WRONGPASS");
  reply long_error{reply::kind::error, 0, std::string(100, 'E'), {}};
  BOOST_TEST(redis::error_code(long_error).size() == 32U);
}

BOOST_AUTO_TEST_CASE(every_reply_kind_converts_whatever_the_split) {
  const std::string bytes = bytes_of("+OK\r\n-ERR bad\r\n:-42\r\n$3\r\na\0b\r\n$-1\r\n*3\r\n:1\r\n*0\r\n*2\r\n$1\r\nx\r\n*-1\r\n");
  for (std::size_t chunk : {std::size_t{1}, std::size_t{3}, bytes.size()}) {
    const auto replies = read_all(bytes, chunk);
    BOOST_REQUIRE_EQUAL(replies.size(), 6U);
    BOOST_TEST(replies[0].is_status("OK"));
    BOOST_TEST(replies[1].is_error());
    BOOST_TEST(replies[1].text == "ERR bad");
    BOOST_TEST((replies[2].type == reply::kind::integer));
    BOOST_TEST(replies[2].integer == -42);
    BOOST_TEST((replies[3].type == reply::kind::string));
    BOOST_TEST(replies[3].text == std::string("a\0b", 3));
    BOOST_TEST(replies[4].is_nil());
    BOOST_TEST((replies[5].type == reply::kind::array));
    BOOST_REQUIRE_EQUAL(replies[5].elements.size(), 3U);
    BOOST_TEST(replies[5].elements[0].integer == 1);
    BOOST_TEST(replies[5].elements[1].elements.empty());
    BOOST_REQUIRE_EQUAL(replies[5].elements[2].elements.size(), 2U);
    BOOST_TEST(replies[5].elements[2].elements[0].text == "x");
    BOOST_TEST(replies[5].elements[2].elements[1].is_nil());
  }
}

BOOST_AUTO_TEST_CASE(a_protocol_error_is_an_error) {
  redis::reply_reader reader;
  const std::string bytes = "?what\r\n";
  BOOST_REQUIRE(reader.feed(bytes.data(), bytes.size()));
  auto next = reader.next();
  BOOST_REQUIRE(!next);
  BOOST_TEST(next.error().message.find("protocol error") != std::string::npos, next.error().message);
}

BOOST_AUTO_TEST_SUITE_END()
