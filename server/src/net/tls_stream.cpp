#include "net/tls_stream.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <climits>

namespace callsign::server::net_detail {

namespace {
// Maps SSL_get_error after a call that did not succeed.
tls_outcome after_failure(ssl_st* ssl, int ret) {
  const int reason = SSL_get_error(ssl, ret);
  ERR_clear_error();
  switch (reason) {
    case SSL_ERROR_WANT_READ:
      return {tls_want::read, 0};
    case SSL_ERROR_WANT_WRITE:
      return {tls_want::write, 0};
    case SSL_ERROR_ZERO_RETURN:
      return {tls_want::closed, 0};
    case SSL_ERROR_SYSCALL:
      // EOF without close_notify, or a socket error (reset): the peer is gone either way.
      return {ret == 0 ? tls_want::closed : tls_want::failed, 0};
    default:
      return {tls_want::failed, 0};
  }
}

int clamp(std::size_t size) { return size > INT_MAX ? INT_MAX : static_cast<int>(size); }
}  // namespace

tls_outcome tls_io_handshake(ssl_st* ssl) {
  ERR_clear_error();
  const int ret = SSL_do_handshake(ssl);
  if (ret == 1) {
    return {tls_want::done, 0};
  }
  return after_failure(ssl, ret);
}

tls_outcome tls_io_read(ssl_st* ssl, void* data, std::size_t size) {
  ERR_clear_error();
  const int ret = SSL_read(ssl, data, clamp(size));
  if (ret > 0) {
    return {tls_want::done, static_cast<std::size_t>(ret)};
  }
  const auto outcome = after_failure(ssl, ret);
  if (outcome.want == tls_want::read) {
    // The read that found the socket empty allocated a 17 KiB record buffer, which
    // SSL_MODE_RELEASE_BUFFERS only frees after data: an idle connection would keep it. Nothing
    // is buffered now (else OpenSSL would not want to read), so it is given back; a pending
    // write keeps both buffers (SSL_free_buffers then does nothing).
    SSL_free_buffers(ssl);
  }
  return outcome;
}

tls_outcome tls_io_write(ssl_st* ssl, const void* data, std::size_t size) {
  if (size == 0) {
    return {tls_want::done, 0};
  }
  ERR_clear_error();
  const int ret = SSL_write(ssl, data, clamp(size));
  if (ret > 0) {
    return {tls_want::done, static_cast<std::size_t>(ret)};
  }
  return after_failure(ssl, ret);
}

tls_outcome tls_io_shutdown(ssl_st* ssl) {
  ERR_clear_error();
  const int ret = SSL_shutdown(ssl);
  if (ret >= 0) {
    return {tls_want::done, 0};  // 0: our close_notify is out; the peer's is not awaited
  }
  return after_failure(ssl, ret);
}

const char* tls_io_version(ssl_st* ssl) { return SSL_get_version(ssl); }

void tls_stream::expires_after(std::chrono::steady_clock::duration d) {
  if (!deadline_) {
    deadline_ = std::make_shared<deadline_state>(socket_);
  }
  auto& state = *deadline_;
  state.expired = false;
  const auto generation = ++state.generation;
  state.timer.expires_after(d);  // a previous wait completes with operation_aborted
  std::weak_ptr<deadline_state> weak = deadline_;
  state.timer.async_wait([weak, generation](const beast::error_code& ec) {
    auto s = weak.lock();
    if (ec || !s || s->generation != generation) {
      return;
    }
    s->expired = true;
    beast::error_code ignored;
    s->socket->cancel(ignored);  // the pending wait ends; the operation reports the timeout
  });
}

void tls_stream::expires_never() {
  if (deadline_) {
    ++deadline_->generation;
    deadline_->expired = false;
    deadline_->timer.cancel();
  }
}

void teardown(beast::role_type, tls_stream& stream, beast::error_code& ec) {
  stream.socket().shutdown(tcp::socket::shutdown_both, ec);
}

void beast_close_socket(tls_stream& stream) {
  beast::error_code ignored;
  stream.socket().close(ignored);
}

}  // namespace callsign::server::net_detail
