// One connection to a Redis server or Sentinel: TCP (or TLS) to an endpoint, plain request /
// reply exchanges for handshakes, and the raw write / read steps the pipeline is built from.
// Thread-safety: none; a connection lives on the client's thread (its io_context).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "crypto/result.hpp"
#include "redis/client.hpp"
#include "reply_reader.hpp"

namespace callsign::redis {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
inline constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

std::string to_string(const endpoint& at);

class connection {
 public:
  // `tls`: handshake with `tls_context` (verification set up there) checking `server_name`
  // (or the host when empty) in the server's certificate. The connection keeps the context.
  connection(asio::any_io_executor executor, std::shared_ptr<asio::ssl::context> tls_context, bool tls,
             std::string server_name);
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  // Resolves, connects and, with TLS, handshakes, all within `timeout`.
  asio::awaitable<result<void>> open(endpoint to, std::chrono::milliseconds timeout);
  // Sends `commands` back to back and reads as many replies, within `timeout` (handshakes,
  // sentinels, subscriptions; the pipeline uses write() and read_more()).
  asio::awaitable<result<std::vector<reply>>> request(const std::vector<command>& commands,
                                                      std::chrono::milliseconds timeout);
  asio::awaitable<result<void>> write(const std::string& bytes);
  // Reads what has arrived into replies(); fails when the connection ended.
  asio::awaitable<result<void>> read_more();
  reply_reader& replies() noexcept { return reader_; }

  // Closes the socket: every operation on it ends with an error. Idempotent.
  void close() noexcept;
  bool is_open() const noexcept { return open_; }
  const endpoint& peer() const noexcept { return peer_; }

  // Bounds what follows: when `timeout` passes before disarm(), the connection is closed and
  // later failures read "timed out".
  void arm(std::chrono::milliseconds timeout);
  void disarm() noexcept;

 private:
  error failure(std::string_view what, const boost::system::error_code& ec) const;

  std::shared_ptr<asio::ssl::context> tls_context_;  // before stream_, which is made from it
  asio::ssl::stream<tcp::socket> stream_;
  tcp::resolver resolver_;  // a member so that close() (and the deadline) can cancel a lookup
  asio::steady_timer deadline_;
  bool tls_;
  std::string server_name_;
  endpoint peer_;
  bool open_ = false;
  bool timed_out_ = false;
  std::uint64_t generation_ = 0;  // which arm() the deadline belongs to
  reply_reader reader_;
  std::array<char, 65536> buffer_{};
};

}  // namespace callsign::redis
