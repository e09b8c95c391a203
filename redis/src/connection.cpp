#include "connection.hpp"

#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/write.hpp>

#include "resp_encoding.hpp"

namespace callsign::redis {

std::string to_string(const endpoint& at) { return at.host + ":" + std::to_string(at.port); }

connection::connection(asio::any_io_executor executor, std::shared_ptr<asio::ssl::context> tls_context, bool tls,
                       std::string server_name)
    : tls_context_(std::move(tls_context)), stream_(executor, *tls_context_), resolver_(executor), deadline_(executor), tls_(tls), server_name_(std::move(server_name)) {}

error connection::failure(std::string_view what, const boost::system::error_code& ec) const {
  std::string message = "redis " + to_string(peer_) + ": " + std::string(what);
  if (timed_out_) return make_error(error_kind::unavailable, message + ": timed out");
  if (ec) message += ": " + ec.message();
  return make_error(error_kind::unavailable, message);
}

void connection::arm(std::chrono::milliseconds timeout) {
  timed_out_ = false;
  const auto armed = ++generation_;
  deadline_.expires_after(timeout);
  // The handler reads `this` only when the timer fired (~connection cancels it first), and only
  // acts when no disarm() or later arm() came after it expired.
  deadline_.async_wait([this, armed](const boost::system::error_code& ec) {
    if (!ec && armed == generation_) {
      timed_out_ = true;
      close();
    }
  });
}

void connection::disarm() noexcept {
  ++generation_;
  deadline_.cancel();
}

void connection::close() noexcept {
  open_ = false;
  resolver_.cancel();
  boost::system::error_code ignored;
  stream_.next_layer().shutdown(tcp::socket::shutdown_both, ignored);
  stream_.next_layer().close(ignored);
}

asio::awaitable<result<void>> connection::open(endpoint to, std::chrono::milliseconds timeout) {
  peer_ = std::move(to);
  arm(timeout);
  auto [resolve_error, found] = co_await resolver_.async_resolve(peer_.host, std::to_string(peer_.port), use_tuple);
  if (resolve_error) co_return failure("cannot resolve", resolve_error);
  if (timed_out_) co_return failure("connect", {});
  auto [connect_error, ignored] = co_await asio::async_connect(stream_.next_layer(), found, use_tuple);
  if (connect_error || timed_out_) co_return failure("connect", connect_error);
  open_ = true;
  boost::system::error_code no_delay_error;  // an optimisation: its failure is harmless
  stream_.next_layer().set_option(tcp::no_delay(true), no_delay_error);
  if (tls_) {
    const std::string& name = server_name_.empty() ? peer_.host : server_name_;
    SSL* ssl = stream_.native_handle();
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    boost::system::error_code not_ip;
    asio::ip::make_address(name, not_ip);
    if (!not_ip) {
      X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str());
    } else {
      // SSL_set_tlsext_host_name, without its C cast.
      SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name, const_cast<char*>(name.c_str()));
      X509_VERIFY_PARAM_set1_host(param, name.c_str(), 0);
    }
    auto [handshake_error] = co_await stream_.async_handshake(asio::ssl::stream_base::client, use_tuple);
    if (handshake_error) {
      const long verified = SSL_get_verify_result(ssl);
      std::string what = "TLS handshake";
      if (verified != X509_V_OK) what += std::string(" (certificate: ") + X509_verify_cert_error_string(verified) + ")";
      close();
      co_return failure(what, handshake_error);
    }
  }
  disarm();
  co_return result<void>{};
}

asio::awaitable<result<void>> connection::write(const std::string& bytes) {
  boost::system::error_code ec;
  if (tls_) {
    std::tie(ec, std::ignore) = co_await asio::async_write(stream_, asio::buffer(bytes), use_tuple);
  } else {
    std::tie(ec, std::ignore) = co_await asio::async_write(stream_.next_layer(), asio::buffer(bytes), use_tuple);
  }
  if (ec || !open_) {
    close();
    co_return failure("write", ec);
  }
  co_return result<void>{};
}

asio::awaitable<result<void>> connection::read_more() {
  boost::system::error_code ec;
  std::size_t got = 0;
  if (tls_) {
    std::tie(ec, got) = co_await stream_.async_read_some(asio::buffer(buffer_), use_tuple);
  } else {
    std::tie(ec, got) = co_await stream_.next_layer().async_read_some(asio::buffer(buffer_), use_tuple);
  }
  if (ec || !open_) {
    close();
    co_return failure(ec == asio::error::eof ? "connection closed by the server" : "read", ec);
  }
  co_return reader_.feed(buffer_.data(), got);
}

asio::awaitable<result<std::vector<reply>>> connection::request(const std::vector<command>& commands,
                                                                std::chrono::milliseconds timeout) {
  arm(timeout);
  std::string out;
  for (const auto& cmd : commands) append_command(out, cmd);
  if (auto sent = co_await write(out); !sent) co_return sent.error();
  std::vector<reply> replies;
  while (replies.size() < commands.size()) {
    auto next = reader_.next();
    if (!next) {
      close();
      co_return next.error();
    }
    if (*next) {
      replies.push_back(std::move(**next));
      continue;
    }
    if (auto more = co_await read_more(); !more) co_return more.error();
  }
  disarm();
  co_return replies;
}

}  // namespace callsign::redis
