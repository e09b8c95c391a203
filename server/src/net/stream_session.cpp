// GET /v1/stream: one WebSocket connection, as one small callback-driven object on the
// connection's I/O thread. Beast performs the upgrade handshake; after it the session owns the bare
// socket and frames with server/stream/websocket_frame.hpp, because a resident Beast websocket::stream
// and two coroutine frames per connection cost several kilobytes each (docs/stream.md, "Memory").
//
// Per connection, between events, there is only: this object, the connection (its socket and the
// HTTP session's idle deadline entry), one pending "socket readable" wait, the hub's
// subscriber, and the I/O thread's context. No timer: one sweep checks every session's next deadline
// (run_deadline_sweep). Reads go into one buffer per I/O thread.
// Writes are attempted at once without blocking; only a write the kernel cannot take whole
// becomes an asynchronous write, watched by the write timeout.
// Over TLS (WSS) the same session reads and writes through OpenSSL on the same non-blocking
// socket (net/tls_stream.hpp): each frame is one SSL_write, and a frame OpenSSL cannot send at
// once is finished when the socket is ready again. The plain path is untouched by it but for
// one branch per read and write.
//
// The protocol and the hub are Asio-free (server/stream/stream_auth.hpp, server/stream/stream_hub.hpp,
// server/stream/websocket_frame.hpp); see docs/stream.md.
#include "net/stream_session.hpp"

namespace callsign::server::net_detail {

void stream_session::start(http::request<http::string_body> req) {
  // Counted again under its peer address (the HTTP session's registration ended with the
  // upgrade); never refused here: the connection was already admitted at accept.
  beast::error_code peer_ec;
  auto peer = socket().remote_endpoint(peer_ec);
  registry_id_ = st_.connections
                     .add(conn_, peer_ec ? std::string() : peer.address().to_string(),
                          std::numeric_limits<std::size_t>::max())
                     .value_or(0);
  if (st_.app.stats) {
    st_.app.stats->connection_opened();
  }
  std::weak_ptr<stream_session> weak = weak_from_this();
  conn_->on_drain = [weak] {
    if (auto self = weak.lock()) {
      if (self->phase_ == phase::handshake) {
        self->finish();
      } else {
        self->begin_close(ws_close::service_restart, "server restarting");
      }
    }
  };
  request_ = std::make_unique<http::request<http::string_body>>(std::move(req));
  deadline_ = steady::now() + st_.app.config.request_timeout;
  deadlines_->add(*this);
  schedule();
  auto accept = [this](auto& ws) {
    ws.set_option(websocket::stream_base::decorator(
        [](websocket::response_type& res) { res.set(http::field::server, "callsign"); }));
    ws.async_accept(*request_, [self = shared_from_this()](const beast::error_code& ec) { self->on_accepted(ec); });
  };
  if (tls_ != nullptr) {
    tls_handshake_ = std::make_unique<tls_upgrade>(socket(), tls_);
    accept(tls_handshake_->ws);
  } else {
    handshake_ = std::make_unique<websocket::stream<tcp::socket&>>(socket());
    accept(*handshake_);
  }
}

void stream_session::on_accepted(const beast::error_code& ec) {
  handshake_.reset();  // its buffers and timer are not needed again
  tls_handshake_.reset();
  request_.reset();
  if (ec || phase_ != phase::handshake) {
    finish();
    return;
  }
  phase_ = phase::open;
  beast::error_code ignored;
  socket().non_blocking(true, ignored);  // reads and writes below never block the thread
  socket().set_option(net::socket_base::send_buffer_size(send_buffer_bytes), ignored);
  last_read_ = steady::now();
  deadline_ = last_read_ + cfg_.auth_timeout;
  if (st_.app.draining.load()) {
    begin_close(ws_close::service_restart, "server restarting");
    return;
  }
  if (tls_ != nullptr) {
    on_readable({});  // OpenSSL may already hold bytes that no readiness event will announce
  } else {
    wait_readable();
  }
  schedule();
}

void stream_session::wait_readable() {
  if (reading_ || phase_ == phase::done) {
    return;
  }
  reading_ = true;
  const auto what = read_wants_write_ ? tcp::socket::wait_write : tcp::socket::wait_read;
  socket().async_wait(what, [self = shared_from_this()](const beast::error_code& ec) {
    self->reading_ = false;
    self->on_readable(ec);
  });
}

void stream_session::on_readable(const beast::error_code& wait_ec) {
  if (phase_ == phase::done) {
    return;
  }
  if (wait_ec) {
    finish();
    return;
  }
  // One read buffer per I/O thread, not per connection. Epoll readiness is edge-triggered in
  // Asio, so read until the socket says it would block before waiting again.
  thread_local std::array<std::uint8_t, 16384> buffer;
  for (;;) {
    beast::error_code ec;
    std::size_t n = 0;
    if (tls_ != nullptr) {
      const auto r = tls_io_read(tls_, buffer.data(), buffer.size());
      read_wants_write_ = r.want == tls_want::write;
      if (r.want == tls_want::read || r.want == tls_want::write) {
        break;
      }
      if (r.want != tls_want::done) {
        tls_broken_ = true;
        finish();  // close_notify, EOF, reset or a protocol error
        return;
      }
      n = r.bytes;
    } else {
      n = socket().read_some(net::buffer(buffer), ec);
      if (ec == net::error::would_block || ec == net::error::try_again) {
        break;
      }
      if (ec) {
        finish();  // the peer went away (EOF or reset)
        return;
      }
    }
    last_read_ = steady::now();
    ping_sent_ = false;
    bool had_auth = false;
    std::size_t at = 0;
    while (at < n && phase_ != phase::done) {
      ws_event ev;
      auto used = reader_.feed(std::span<const std::uint8_t>(buffer.data() + at, n - at), ev);
      at += used;
      had_auth = had_auth || (ev.what == ws_event::kind::message && !ev.payload.empty());
      if (ev.what != ws_event::kind::none) {
        handle(ev);
      }
      if (used == 0) {
        break;  // the reader failed; it takes nothing more
      }
    }
    if (had_auth) {
      // The raw bytes are masked, but the key is beside them: do not leave the JWT lying here.
      crypto::secure_wipe(std::span<std::uint8_t>(buffer.data(), n));
    }
    if (phase_ == phase::done) {
      return;
    }
  }
  wait_readable();
}

void stream_session::handle(ws_event& ev) {
  switch (ev.what) {
    case ws_event::kind::message:
      if (!auth_started_ && phase_ == phase::open) {
        auth_started_ = true;
        reader_.keep_messages(false);  // the protocol has no other client messages
        if (ev.binary) begin_close(ws_close::unsupported_data, "the auth message must be a text frame");
        else authenticate(std::move(ev.payload));
      }
      crypto::secure_wipe(ev.payload);
      break;
    case ws_event::kind::ping:
      if (phase_ == phase::open) {
        pong_ = std::move(ev.payload);
        pong_due_ = true;
        pump();
      }
      break;
    case ws_event::kind::pong:
    case ws_event::kind::none:
      break;
    case ws_event::kind::close:
      peer_closed_ = true;
      if (close_sent_) {
        finish();  // the reply to our close: the handshake is complete
      } else {
        begin_close(ev.code, {});  // echo the peer's close, then end
      }
      break;
    case ws_event::kind::error:
      // Failing the connection (RFC 6455 7.1.7): send the close frame, then end without waiting
      // for a reply the reader could no longer parse.
      peer_closed_ = true;
      begin_close(ev.code, {});
      break;
  }
}

void stream_session::authenticate(std::string message) {
  // The JWT check reads the user store: on the worker pool, then back to the connection's I/O thread.
  net::post(st_.workers, [self = shared_from_this(), message = std::move(message)]() mutable {
    auto who = self->kind_ == upgrade_kind::admin_stream ? authenticate_admin_stream(self->st_.app, message)
                                                         : authenticate_stream(self->st_.app, message);
    crypto::secure_wipe(message);
    auto executor = self->conn_->socket.get_executor();
    net::post(executor, [self, who = std::move(who)]() mutable { self->on_authenticated(std::move(who)); });
  });
}

void stream_session::on_authenticated(result<stream_grant> who) {
  if (phase_ != phase::open) {
    return;
  }
  if (!who) {
    begin_close(ws_close::policy_violation, who.error().message);
    return;
  }
  valid_until_ = who->valid_until;
  if (stream_token_expired(valid_until_, unix_now_ms())) {
    begin_close(ws_close::policy_violation, std::string(stream_expired_error));  // expired on the way here
    return;
  }
  std::weak_ptr<stream_session> weak = weak_from_this();
  // Called by publishers on any thread; at most once until the outbox is drained (stream_hub).
  auto wake = [weak] {
    if (auto self = weak.lock()) {
      auto executor = self->conn_->socket.get_executor();
      net::post(executor, [self] { self->pump(); });
    }
  };
  auto subscribed = hub().subscribe(std::move(who->user), std::move(wake));
  if (!subscribed) {
    begin_close(ws_close::try_again_later, subscribed.error().message);
    return;
  }
  sub_ = std::move(*subscribed);
  if (kind_ == upgrade_kind::admin_stream) {
    // After subscribing: a tick in between may repeat a second of the history (the console
    // skips ticks it already holds), but none is lost.
    sub_->push(std::make_shared<const std::string>(admin_stream_history(st_.app)));
    st_.app.log.info("admin stream subscribed", {{"admin", sub_->user()}});
    arm_expiry();
    schedule();
    return;
  }
  fanout_ = st_.fanout_of(conn_->socket.get_executor());
  fanout_->add(*this);
  // After subscribing, so a boundary push in between is never older than this one.
  auto first = stream_token_at(st_.app, sub_->user(), st_.app.clock.unix_seconds());
  sub_->push_token(first.step, std::make_shared<const std::string>(std::move(first.message)));
  st_.app.log.info("stream subscribed", {{"user", sub_->user()}});
  arm_expiry();
  schedule();
}

std::int64_t stream_session::unix_now_ms() const {
  return std::chrono::duration_cast<milliseconds>(st_.app.clock.now().time_since_epoch()).count();
}

// The sweep's deadline for the token's expiry, from the injected clock's distance to it.
void stream_session::arm_expiry() {
  const auto due = stream_expiry_due_ms(valid_until_, unix_now_ms(), steady_ms(steady::now()));
  expiry_ = due >= steady_ms(steady::time_point::max()) ? steady::time_point::max()
                                                         : steady::time_point(milliseconds(due));
}

void stream_session::close_expired() {
  st_.app.log.info("stream closed: token expired", {{"user", sub_ ? sub_->user() : std::string()}});
  begin_close(ws_close::policy_violation, std::string(stream_expired_error));
}

void stream_session::begin_close(std::uint16_t code, std::string error) {
  if (phase_ == phase::closing || phase_ == phase::done) {
    return;
  }
  if (phase_ == phase::handshake) {
    finish();
    return;
  }
  phase_ = phase::closing;
  close_code_ = code;
  close_error_ = std::move(error);
  error_sent_ = close_error_.empty() || peer_closed_;
  pong_due_ = false;
  ping_due_ = false;
  leave_hub();
  deadline_ = steady::now() + std::min<milliseconds>(cfg_.write_timeout, close_limit);
  pump();
  schedule();
}

// Writes what is due, in order: a pong, the close sequence, a keep-alive ping, the outbox.
void stream_session::schedule() {
  if (phase_ == phase::done) {
    return;
  }
  auto next = steady::time_point::max();
  if (phase_ == phase::handshake || phase_ == phase::closing) {
    next = deadline_;
  } else if (!sub_ && !auth_started_) {
    next = deadline_;  // the auth message must arrive by then
  } else {
    next = last_read_ + (ping_sent_ ? cfg_.idle_timeout : cfg_.idle_timeout / 2);
    if (sub_) {
      next = std::min(next, expiry_);
    }
  }
  if (writing_async_) {
    next = std::min<steady::time_point>(next, write_started_ + cfg_.write_timeout);
  }
  set_due(steady_ms(next));
}

void stream_session::on_timer() {
  if (phase_ == phase::done) {
    return;
  }
  auto now = steady::now();
  if (writing_async_ && now >= write_started_ + cfg_.write_timeout) {
    // Stuck for the whole write timeout: nothing more can be said to this peer.
    if (phase_ == phase::open && st_.app.stats) {
      st_.app.stats->stream_slow_consumer_closed();
    }
    st_.app.log.warn("stream closed: write stuck", {{"user", sub_ ? sub_->user() : std::string()}});
    finish();
    return;
  }
  if (phase_ == phase::open && sub_ && now >= expiry_) {
    if (stream_token_expired(valid_until_, unix_now_ms())) {
      close_expired();
      return;
    }
    arm_expiry();  // the wall clock moved back: not yet
  }
  if (phase_ == phase::handshake || phase_ == phase::closing) {
    if (now >= deadline_) {
      finish();
      return;
    }
  } else if (!sub_ && !auth_started_) {
    if (now >= deadline_) {
      begin_close(ws_close::policy_violation, "authentication timed out");
      return;
    }
  } else if (now >= last_read_ + cfg_.idle_timeout) {
    finish();  // silent for the whole idle timeout, even after a ping
    return;
  } else if (!ping_sent_ && now >= last_read_ + cfg_.idle_timeout / 2) {
    ping_sent_ = true;
    ping_due_ = true;
    pump();
  }
  schedule();
}

void stream_session::finish() {
  if (phase_ == phase::done) {
    return;
  }
  const bool upgrading = phase_ == phase::handshake;  // Beast's handshake may be mid-write
  phase_ = phase::done;
  leave_hub();
  if (tls_ != nullptr && !tls_broken_ && !writing_async_ && !upgrading) {
    tls_io_shutdown(tls_);  // close_notify, best effort: never waited for
  }
  beast::error_code ignored;
  socket().shutdown(tcp::socket::shutdown_both, ignored);
  socket().close(ignored);  // the pending wait completes with operation_aborted and lets go of this
  set_due(never);
  deadlines_->remove(*this);
  // conn_->on_drain stays: it may be the caller, and it only holds a weak_ptr to this.
  st_.connections.remove(registry_id_);
  if (st_.app.stats) {
    st_.app.stats->connection_closed();
  }
}

void stream_session::leave_hub() {
  if (!sub_) {
    return;
  }
  if (fanout_) {
    fanout_->remove(*this);
  }
  hub().unsubscribe(sub_);
  sub_.reset();
}

void start_stream_session(server_state& st, std::shared_ptr<connection> conn,
                          http::request<http::string_body> req, upgrade_kind kind) {
  auto session = std::make_shared<stream_session>(st, std::move(conn), kind);
  session->start(std::move(req));
}

}  // namespace callsign::server::net_detail
