#include "server/stream/websocket_frame.hpp"

#include <boost/test/unit_test.hpp>
#include <vector>

using namespace callsign::server;

namespace {
// A client frame: masked, as RFC 6455 requires of clients.
std::vector<std::uint8_t> client_frame(std::uint8_t first_byte, std::string_view payload,
                                       std::array<std::uint8_t, 4> mask = {0x11, 0x22, 0x33, 0x44}) {
  std::vector<std::uint8_t> out{first_byte};
  if (payload.size() < 126) {
    out.push_back(static_cast<std::uint8_t>(0x80U | payload.size()));
  } else if (payload.size() <= 0xFFFF) {
    out.push_back(0x80U | 126U);
    out.push_back(static_cast<std::uint8_t>(payload.size() >> 8));
    out.push_back(static_cast<std::uint8_t>(payload.size()));
  } else {
    out.push_back(0x80U | 127U);
    for (int i = 7; i >= 0; --i) {
      out.push_back(static_cast<std::uint8_t>(static_cast<std::uint64_t>(payload.size()) >> (8 * i)));
    }
  }
  out.insert(out.end(), mask.begin(), mask.end());
  for (std::size_t i = 0; i < payload.size(); ++i) {
    out.push_back(static_cast<std::uint8_t>(static_cast<std::uint8_t>(payload[i]) ^ mask[i % 4]));
  }
  return out;
}

// Feeds all of `bytes`, `chunk` bytes at a time, and collects the events.
std::vector<ws_event> feed_all(ws_reader& reader, const std::vector<std::uint8_t>& bytes, std::size_t chunk) {
  std::vector<ws_event> events;
  std::size_t at = 0;
  while (at < bytes.size()) {
    auto piece = std::span<const std::uint8_t>(bytes).subspan(at, std::min(chunk, bytes.size() - at));
    std::size_t used_in_piece = 0;
    while (used_in_piece < piece.size()) {
      ws_event ev;
      auto used = reader.feed(piece.subspan(used_in_piece), ev);
      used_in_piece += used;
      if (ev.what != ws_event::kind::none) {
        events.push_back(std::move(ev));
      }
      if (used == 0) {
        return events;  // the reader failed and takes nothing more
      }
    }
    at += piece.size();
  }
  return events;
}

void append(std::vector<std::uint8_t>& to, const std::vector<std::uint8_t>& more) {
  to.insert(to.end(), more.begin(), more.end());
}
}  // namespace

BOOST_AUTO_TEST_SUITE(websocket_frame_tests)

BOOST_AUTO_TEST_CASE(server_headers_use_the_shortest_length) {
  std::array<std::uint8_t, 10> head{};
  BOOST_TEST(ws_frame_header(ws_opcode::text, 125, head) == 2U);
  BOOST_TEST(head[0] == 0x81);
  BOOST_TEST(head[1] == 125);
  BOOST_TEST(ws_frame_header(ws_opcode::text, 126, head) == 4U);
  BOOST_TEST(head[1] == 126);
  BOOST_TEST(head[2] == 0);
  BOOST_TEST(head[3] == 126);
  BOOST_TEST(ws_frame_header(ws_opcode::binary, 70000, head) == 10U);
  BOOST_TEST(head[0] == 0x82);
  BOOST_TEST(head[1] == 127);
  BOOST_TEST(head[7] == 0x01);  // 70000 = 0x011170
  BOOST_TEST(head[8] == 0x11);
  BOOST_TEST(head[9] == 0x70);
  BOOST_TEST(ws_close_frame(1012) == std::string("\x88\x02\x03\xF4", 4));
  BOOST_TEST(ws_frame(ws_opcode::pong, "hi") == std::string("\x8A\x02hi", 4));
}

BOOST_AUTO_TEST_CASE(messages_of_every_length_form_in_any_chunking) {
  std::string small = R"({"type":"auth","token":"x"})";
  std::string medium(300, 'm');
  std::string large(70000, 'L');
  std::vector<std::uint8_t> bytes = client_frame(0x81, small);
  append(bytes, client_frame(0x81, medium));
  append(bytes, client_frame(0x82, large));
  for (std::size_t chunk : {std::size_t{1}, std::size_t{3}, std::size_t{7}, std::size_t{4096}, bytes.size()}) {
    ws_reader reader(100000);
    auto events = feed_all(reader, bytes, chunk);
    BOOST_REQUIRE_EQUAL(events.size(), 3U);
    BOOST_TEST(events[0].payload == small);
    BOOST_TEST(events[1].payload == medium);
    BOOST_TEST(events[2].payload == large);
  }
}

BOOST_AUTO_TEST_CASE(fragments_join_and_control_frames_interleave) {
  std::vector<std::uint8_t> bytes = client_frame(0x01, "hel");  // text, not final
  append(bytes, client_frame(0x89, "are you there"));             // ping in between
  append(bytes, client_frame(0x80, "lo"));                        // final continuation
  append(bytes, client_frame(0x8A, ""));                          // pong
  append(bytes, client_frame(0x88, std::string("\x03\xE8", 2) + "bye"));
  ws_reader reader(1024);
  auto events = feed_all(reader, bytes, 5);
  BOOST_REQUIRE_EQUAL(events.size(), 4U);
  BOOST_TEST((events[0].what == ws_event::kind::ping));
  BOOST_TEST(events[0].payload == "are you there");
  BOOST_TEST((events[1].what == ws_event::kind::message));
  BOOST_TEST(events[1].payload == "hello");
  BOOST_TEST((events[2].what == ws_event::kind::pong));
  BOOST_TEST((events[3].what == ws_event::kind::close));
  BOOST_TEST(events[3].code == 1000);
}

// The stream's one client message (auth) must be text; the reader says which kind came, for the
// whole message when it was fragmented (continuations carry no kind of their own).
BOOST_AUTO_TEST_CASE(a_message_says_whether_it_came_as_binary) {
  std::vector<std::uint8_t> bytes = client_frame(0x81, "text");  // text, final
  append(bytes, client_frame(0x02, "bi"));                       // binary, not final
  append(bytes, client_frame(0x89, "ping"));                     // a ping inside it
  append(bytes, client_frame(0x80, "nary"));                     // final continuation
  append(bytes, client_frame(0x01, "te"));                       // text again, fragmented
  append(bytes, client_frame(0x80, "xt"));
  ws_reader reader(1024);
  auto events = feed_all(reader, bytes, 3);
  BOOST_REQUIRE_EQUAL(events.size(), 4U);
  BOOST_TEST((events[0].what == ws_event::kind::message));
  BOOST_TEST(!events[0].binary);
  BOOST_TEST((events[1].what == ws_event::kind::ping));
  BOOST_TEST((events[2].what == ws_event::kind::message));
  BOOST_TEST(events[2].binary);
  BOOST_TEST(events[2].payload == "binary");
  BOOST_TEST(!events[3].binary);
  BOOST_TEST(events[3].payload == "text");
}

BOOST_AUTO_TEST_CASE(skipped_messages_are_not_stored) {
  ws_reader reader(1024);
  reader.keep_messages(false);
  auto events = feed_all(reader, client_frame(0x81, "ignored"), 2);
  BOOST_REQUIRE_EQUAL(events.size(), 1U);
  BOOST_TEST((events[0].what == ws_event::kind::message));
  BOOST_TEST(events[0].payload.empty());
}

BOOST_AUTO_TEST_CASE(close_without_code_is_no_status) {
  ws_reader reader(1024);
  auto events = feed_all(reader, client_frame(0x88, ""), 100);
  BOOST_REQUIRE_EQUAL(events.size(), 1U);
  BOOST_TEST(events[0].code == ws_close::no_status);
}

BOOST_AUTO_TEST_CASE(protocol_errors) {
  struct bad {
    std::vector<std::uint8_t> bytes;
    std::uint16_t code;
  };
  std::vector<std::uint8_t> unmasked{0x81, 0x02, 'h', 'i'};
  std::vector<std::uint8_t> big_ping = client_frame(0x89, std::string(126, 'p'));
  std::vector<std::uint8_t> fragmented_ping = client_frame(0x09, "p");
  std::vector<std::uint8_t> reserved_bit = client_frame(0xC1, "x");  // RSV1: no deflate was agreed
  std::vector<std::uint8_t> unknown_opcode = client_frame(0x83, "x");
  std::vector<std::uint8_t> lone_continuation = client_frame(0x80, "x");
  std::vector<std::uint8_t> nested_message = client_frame(0x01, "a");
  append(nested_message, client_frame(0x81, "b"));
  std::vector<std::uint8_t> short_close = client_frame(0x88, "x");
  std::vector<std::uint8_t> bad_close_code = client_frame(0x88, std::string("\x03\xED", 2));  // 1005
  std::vector<std::uint8_t> too_big = client_frame(0x81, std::string(1025, 'x'));
  std::vector<std::uint8_t> too_big_in_pieces = client_frame(0x01, std::string(600, 'x'));
  append(too_big_in_pieces, client_frame(0x80, std::string(600, 'x')));
  std::vector<bad> cases{{unmasked, 1002},       {big_ping, 1002},        {fragmented_ping, 1002},
                         {reserved_bit, 1002},   {unknown_opcode, 1002},  {lone_continuation, 1002},
                         {nested_message, 1002}, {short_close, 1002},     {bad_close_code, 1002},
                         {too_big, 1009},        {too_big_in_pieces, 1009}};
  for (const auto& c : cases) {
    ws_reader reader(1024);
    auto events = feed_all(reader, c.bytes, 3);
    BOOST_REQUIRE(!events.empty());
    BOOST_TEST((events.back().what == ws_event::kind::error));
    BOOST_TEST(events.back().code == c.code);
    ws_event after;
    BOOST_TEST(reader.feed(client_frame(0x81, "more"), after) == 0U);  // nothing after an error
  }
}

BOOST_AUTO_TEST_SUITE_END()
