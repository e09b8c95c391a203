// Private to the net layer: the body of an admitted streamed route (body_reading::streamed,
// server/http/router.hpp; the list upload, docs/lists.md "Upload size and streaming"), handed to its
// body_stream one chunk at a time. Templated on the stream (plain TCP or TLS) and its phase
// deadline (net/phase_deadline.hpp) so it does not care which listener accepted the connection.
#pragma once

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "crypto/result.hpp"
#include "server/http/body_rate.hpp"
#include "server/http/router.hpp"

namespace callsign::server::net_detail {

// What one streamed body may hold in memory besides the connection's read buffer.
inline constexpr std::size_t body_chunk_bytes = 64 * 1024;

enum class body_end {
  complete,     // every body byte is in the sink (not yet finished: body_stream::finish)
  too_large,    // past the sink's limit: it dropped what it had; the route answers (413)
  store_failed, // the sink refused a write (ENOSPC, EIO): store_error says why
  read_failed,  // disconnect, timeout or malformed chunking: read_error
  too_slow,     // behind the route's min_bytes_per_second on average (408)
};

struct body_outcome {
  body_end end = body_end::complete;
  boost::beast::error_code read_error;
  std::optional<error> store_error;
};

// Reads the rest of the message into `sink`. The timeout is re-armed before every read, so a
// large body lives as long as it keeps making progress while a stalled one is cut off after
// `read_timeout`; and once `read_timeout` has passed, the bytes received must keep up with
// min_bytes_per_second x (elapsed - read_timeout) (0 = no floor, body_rate_deadline), so a
// trickle that keeps every read inside the timeout is cut off too. Each full chunk is written
// on `workers`: disk writes may block, and the connection's I/O thread serves other connections
// meanwhile. `parser` must be past the header with its body limit off (the sink counts and
// enforces its limit). The deadline is off again when it returns.
template <class Stream, class Deadline>
boost::asio::awaitable<body_outcome> stream_body(
    Stream& stream, Deadline& deadline, boost::beast::flat_buffer& buffer,
    boost::beast::http::request_parser<boost::beast::http::buffer_body>& parser, body_stream& sink,
    boost::asio::thread_pool& workers, std::chrono::steady_clock::duration read_timeout,
    std::uint64_t min_bytes_per_second) {
  namespace asio = boost::asio;
  namespace http = boost::beast::http;
  constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

  using steady = std::chrono::steady_clock;
  const steady::time_point started = steady::now();
  std::uint64_t received = 0;  // bytes the parser took, framing included
  std::vector<std::uint8_t> chunk(body_chunk_bytes);
  while (!parser.is_done()) {
    parser.get().body().data = chunk.data();
    parser.get().body().size = chunk.size();
    while (!parser.is_done() && parser.get().body().size > 0) {
      deadline.arm(std::chrono::duration_cast<std::chrono::milliseconds>(read_timeout));
      auto [ec, bytes] = co_await http::async_read_some(stream, buffer, parser, use_tuple);
      deadline.disarm();
      received += bytes;
      if (ec && ec != http::error::need_buffer) {
        co_return body_outcome{body_end::read_failed, ec, std::nullopt};
      }
      // Checked when a read completes, not by the timer: a timer that fires closes the socket,
      // and this client is still there to be told why (408).
      if (!parser.is_done() &&
          steady::now() >= body_rate_deadline(started, read_timeout, received, min_bytes_per_second)) {
        co_return body_outcome{body_end::too_slow, {}, std::nullopt};
      }
      if (ec == http::error::need_buffer) break;
    }
    const std::size_t filled = chunk.size() - parser.get().body().size;
    if (filled == 0) continue;
    // Named locals, not temporaries inside co_await (GCC 12, docs/architecture.md).
    const std::span<const std::uint8_t> piece(chunk.data(), filled);
    auto write_piece = [&sink, piece]() -> asio::awaitable<std::optional<error>> {
      auto written = sink.write(piece);
      if (!written) co_return written.error();
      co_return std::nullopt;
    };
    auto spawned = asio::co_spawn(workers, std::move(write_piece), asio::use_awaitable);
    std::optional<error> failed = co_await std::move(spawned);
    if (failed) {
      const auto end = sink.over_limit() ? body_end::too_large : body_end::store_failed;
      co_return body_outcome{end, {}, std::move(failed)};
    }
  }
  co_return body_outcome{};
}

// After refusing a request whose body was not read: the reply is written and the sending side
// shut down; read and drop what the client already sent, for a bounded time and amount, so
// closing does not reset the connection before the client has read the reply.
template <class Stream, class Deadline>
boost::asio::awaitable<void> drain_unread_body(Stream& stream, Deadline& deadline, boost::beast::flat_buffer& buffer) {
  namespace asio = boost::asio;
  constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
  constexpr std::size_t drain_limit = 1024 * 1024;
  buffer.clear();
  std::vector<char> scratch(16 * 1024);
  std::size_t drained = 0;
  deadline.arm(std::chrono::seconds(1));  // for all of it
  while (drained < drain_limit) {
    auto into = asio::buffer(scratch);
    auto [ec, bytes] = co_await stream.async_read_some(into, use_tuple);
    if (ec) break;
    drained += bytes;
  }
  deadline.disarm();
}

}  // namespace callsign::server::net_detail
