// TLS on a non-blocking socket: OpenSSL reads and writes the descriptor itself (SSL_set_fd).
// Asio's ssl::stream is not used because it allocates two 17 KiB buffers per connection and a
// BIO pair beside them; here a connection holds OpenSSL's state only, and with
// SSL_MODE_RELEASE_BUFFERS not even record buffers while idle (docs/stream.md, "Memory").
//
// tls_io_*: one non-blocking attempt each, for the WebSocket session's callbacks.
// tls_stream: a Beast AsyncStream over them (HTTP/1.1 and the upgrade), with a beast::tcp_stream
// style timeout (expires_after) that cancels a stalled handshake, read or write.
#pragma once

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <boost/beast/websocket/teardown.hpp>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>

struct ssl_st;

namespace callsign::server::net_detail {

namespace net = boost::asio;
namespace beast = boost::beast;
using tcp = net::ip::tcp;

enum class tls_want : std::uint8_t {
  done,    // `bytes` were read or written (or the handshake or shutdown step completed)
  read,    // try again once the socket is readable
  write,   // try again once the socket is writable
  closed,  // the peer closed (close_notify or EOF)
  failed,  // a protocol or socket error: the connection is unusable
};
struct tls_outcome {
  tls_want want;
  std::size_t bytes;
};

// Each clears the thread's OpenSSL error queue before and after (it is shared by every
// connection the thread serves).
tls_outcome tls_io_handshake(ssl_st* ssl);
tls_outcome tls_io_read(ssl_st* ssl, void* data, std::size_t size);
// A write that returns want::read/write must be repeated with the same bytes (they may move).
tls_outcome tls_io_write(ssl_st* ssl, const void* data, std::size_t size);
// Sends close_notify; does not wait for the peer's.
tls_outcome tls_io_shutdown(ssl_st* ssl);
// "TLSv1.3" etc., for the log.
const char* tls_io_version(ssl_st* ssl);

class tls_stream {
 public:
  using executor_type = tcp::socket::executor_type;

  tls_stream(tcp::socket& socket, ssl_st* ssl) : socket_(socket), ssl_(ssl) {}

  executor_type get_executor() noexcept { return socket_.get_executor(); }
  tcp::socket& socket() noexcept { return socket_; }
  ssl_st* native_handle() noexcept { return ssl_; }
  // True once the connection failed or the peer closed: no close_notify is owed then.
  bool broken() const noexcept { return broken_; }

  // Like beast::tcp_stream: an operation pending when the time is up (or started after it)
  // completes with beast::error::timeout.
  void expires_after(std::chrono::steady_clock::duration d);
  void expires_never();

  template <class MutableBuffers, class Token>
  auto async_read_some(const MutableBuffers& buffers, Token&& token) {
    net::mutable_buffer first;
    for (auto it = net::buffer_sequence_begin(buffers); it != net::buffer_sequence_end(buffers); ++it) {
      if (net::mutable_buffer b(*it); b.size() > 0) {
        first = b;
        break;
      }
    }
    return run([this, first] { return tls_io_read(ssl_, first.data(), first.size()); }, std::forward<Token>(token));
  }

  // Gathers up to one TLS record's worth of the buffers, so that Beast's many small header
  // pieces become one record rather than one each.
  template <class ConstBuffers, class Token>
  auto async_write_some(const ConstBuffers& buffers, Token&& token) {
    return run(
        [this, buffers] {
          thread_local std::array<std::uint8_t, 16384> flat;
          const std::size_t n = net::buffer_copy(net::buffer(flat), buffers);
          return tls_io_write(ssl_, flat.data(), n);
        },
        std::forward<Token>(token));
  }

  template <class Token>
  auto async_handshake(Token&& token) {
    return run([this] { return tls_io_handshake(ssl_); }, std::forward<Token>(token));
  }

  template <class Token>
  auto async_shutdown(Token&& token) {
    return run([this] { return tls_io_shutdown(ssl_); }, std::forward<Token>(token));
  }

 private:
  struct deadline_state {
    explicit deadline_state(tcp::socket& s) : timer(s.get_executor()), socket(&s) {}
    net::steady_timer timer;
    tcp::socket* socket;
    std::uint64_t generation = 0;
    bool expired = false;
  };

  // One attempt now; on want::read/write, another once the socket is ready. Completion is
  // never inline: an operation that finishes at once is posted.
  template <class Attempt>
  struct op {
    tls_stream& stream;
    Attempt attempt;
    enum class state : std::uint8_t { starting, waiting, posted } at = state::starting;
    beast::error_code result_ec{};
    std::size_t result_bytes = 0;

    template <class Self>
    void operator()(Self& self, beast::error_code ec = {}) {
      if (at == state::posted) {
        self.complete(result_ec, result_bytes);
        return;
      }
      if (stream.expired()) {
        finish(self, beast::error::timeout, 0);
        return;
      }
      if (ec) {
        finish(self, ec, 0);
        return;
      }
      const tls_outcome r = attempt();
      switch (r.want) {
        case tls_want::read:
          at = state::waiting;
          stream.socket_.async_wait(tcp::socket::wait_read, std::move(self));
          return;
        case tls_want::write:
          at = state::waiting;
          stream.socket_.async_wait(tcp::socket::wait_write, std::move(self));
          return;
        case tls_want::done:
          finish(self, {}, r.bytes);
          return;
        case tls_want::closed:
          stream.broken_ = true;
          finish(self, net::error::eof, 0);
          return;
        case tls_want::failed:
          stream.broken_ = true;
          finish(self, net::error::connection_reset, 0);
          return;
      }
    }

    template <class Self>
    void finish(Self& self, beast::error_code ec, std::size_t bytes) {
      if (at != state::starting) {
        self.complete(ec, bytes);
        return;
      }
      at = state::posted;
      result_ec = ec;
      result_bytes = bytes;
      net::post(std::move(self));
    }
  };

  template <class Attempt, class Token>
  auto run(Attempt attempt, Token&& token) {
    return net::async_compose<Token, void(beast::error_code, std::size_t)>(op<Attempt>{*this, std::move(attempt)},
                                                                           token, socket_);
  }

  bool expired() const noexcept { return deadline_ && deadline_->expired; }

  tcp::socket& socket_;
  ssl_st* ssl_;
  std::shared_ptr<deadline_state> deadline_;  // created by the first expires_after
  bool broken_ = false;
};

// Beast's websocket::stream<tls_stream&> (used for the upgrade only) tears down and closes
// through these.
void teardown(beast::role_type role, tls_stream& stream, beast::error_code& ec);
void beast_close_socket(tls_stream& stream);

template <class TeardownHandler>
void async_teardown(beast::role_type, tls_stream& stream, TeardownHandler&& handler) {
  beast::error_code ec;
  stream.socket().shutdown(tcp::socket::shutdown_both, ec);
  net::post(stream.get_executor(),
            [h = std::forward<TeardownHandler>(handler), ec]() mutable { std::move(h)(ec); });
}

}  // namespace callsign::server::net_detail
