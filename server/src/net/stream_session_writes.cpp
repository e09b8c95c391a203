// GET /v1/stream: the session's write path. A frame is written at once with one non-blocking
// sendmsg (plain) or SSL_write (TLS); only a write the kernel or OpenSSL cannot take whole
// becomes an asynchronous write, watched by the write timeout. See stream_session.cpp.
#include "net/stream_session.hpp"

namespace callsign::server::net_detail {

// At a step boundary, from this I/O thread's fan-out walk: the token is written at once unless
// a write is under way, in which case it waits as the pending token (only the newest is kept).
// A step at or after the token's exp + leeway, or a user who lost access, closes the stream
// instead (stream_boundary_action_for).
void stream_session::deliver_token(const stream_token_table::entry& token, std::int64_t at) {
  if (!sub_) {
    return;
  }
  switch (stream_boundary_action_for(token, at, valid_until_)) {
    case stream_boundary_action::send:
      sub_->push_local_token(token.step, token.message);
      pump();
      return;
    case stream_boundary_action::skip:
      return;
    case stream_boundary_action::close_expired:
      close_expired();
      return;
    case stream_boundary_action::close_refused:
      st_.app.log.info("stream closed: no longer eligible", {{"user", sub_->user()}});
      begin_close(ws_close::policy_violation, std::string(stream_access_error(token.access)));
      return;
  }
}

void stream_session::pump() {
  while (phase_ == phase::open || phase_ == phase::closing) {
    if (writing_async_) {
      return;
    }
    bool done = false;
    if (pong_due_) {
      pong_due_ = false;
      own_ = ws_frame(ws_opcode::pong, pong_);
      pong_.clear();
      writing_.reset();
      done = write_now({});
    } else if (phase_ == phase::closing) {
      if (!error_sent_) {
        error_sent_ = true;
        own_ = ws_frame(ws_opcode::text, stream_error_message(close_error_));
      } else if (!close_sent_) {
        close_sent_ = true;
        own_ = ws_close_frame(close_code_);
      } else {
        if (peer_closed_) {
          finish();  // both closes are out: the handshake is complete
        }
        return;  // waiting for the peer's close, EOF or the close deadline
      }
      writing_.reset();
      done = write_now({});
    } else if (ping_due_) {
      ping_due_ = false;
      own_ = ws_frame(ws_opcode::ping, {});
      writing_.reset();
      done = write_now({});
    } else if (sub_) {
      if (sub_->overflowed()) {
        if (st_.app.stats) {
          st_.app.stats->stream_slow_consumer_closed();
        }
        st_.app.log.warn("stream closed: slow consumer", {{"user", sub_->user()}});
        begin_close(ws_close::policy_violation, "slow consumer");
        return;
      }
      if (stream_token_expired(valid_until_, unix_now_ms())) {
        close_expired();  // the sweep may not have run yet: nothing goes out after exp + leeway
        return;
      }
      auto next = sub_->pop();
      if (!next) {
        return;
      }
      writing_ = std::move(*next);
      own_.clear();
      const auto* bytes = reinterpret_cast<const std::uint8_t*>(writing_->data());
      done = write_now(std::span<const std::uint8_t>(bytes, writing_->size()));
    } else {
      return;
    }
    if (!done) {
      return;  // an asynchronous write is under way, or the session ended
    }
  }
}

// Writes the current frame (own_, or header_ + a shared payload) without blocking. True when
// all of it went out at once; otherwise the rest goes out asynchronously and false is returned.
bool stream_session::write_now(std::span<const std::uint8_t> payload) {
  if (tls_ != nullptr) {
    return write_tls(payload);
  }
  std::array<net::const_buffer, 2> pieces;
  std::size_t header_len = 0;
  if (own_.empty()) {
    header_len = ws_frame_header(ws_opcode::text, payload.size(), header_);
    pieces = {net::buffer(header_.data(), header_len), net::buffer(payload.data(), payload.size())};
  } else {
    pieces = {net::buffer(own_), net::const_buffer()};
  }
  total_ = pieces[0].size() + pieces[1].size();
  beast::error_code ec;
  written_ = socket().write_some(pieces, ec);
  if (ec == net::error::would_block || ec == net::error::try_again) {
    written_ = 0;
    ec = {};
  }
  if (ec) {
    finish();  // the peer went away
    return false;
  }
  if (written_ == total_) {
    writing_.reset();
    own_.clear();
    return true;
  }
  // The kernel's send buffer is full: a slow reader. Finish asynchronously, under the watchdog.
  std::array<net::const_buffer, 2> rest;
  if (written_ < pieces[0].size()) {
    rest = {pieces[0] + written_, pieces[1]};
  } else {
    rest = {pieces[1] + (written_ - pieces[0].size()), net::const_buffer()};
  }
  writing_async_ = true;
  write_started_ = steady::now();
  net::async_write(socket(), rest, [self = shared_from_this()](const beast::error_code& wec, std::size_t) {
    self->on_written(wec);
  });
  schedule();
  return false;
}

// The TLS form of write_now: the frame is one SSL_write (one record). What OpenSSL cannot send
// at once stays in own_ (a shared payload is copied there only then) and is retried, as OpenSSL
// requires, with the same bytes when the socket is ready.
bool stream_session::write_tls(std::span<const std::uint8_t> payload) {
  thread_local std::vector<std::uint8_t> flat;
  std::span<const std::uint8_t> frame;
  if (own_.empty()) {
    const auto header_len = ws_frame_header(ws_opcode::text, payload.size(), header_);
    flat.assign(header_.begin(), header_.begin() + static_cast<std::ptrdiff_t>(header_len));
    flat.insert(flat.end(), payload.begin(), payload.end());
    frame = flat;
  } else {
    frame = std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(own_.data()), own_.size());
  }
  written_ = 0;
  total_ = frame.size();
  for (;;) {
    const auto r = tls_io_write(tls_, frame.data() + written_, total_ - written_);
    if (r.want == tls_want::done) {
      written_ += r.bytes;
      if (written_ == total_) {
        writing_.reset();
        own_.clear();
        return true;
      }
      continue;
    }
    if (r.want == tls_want::read || r.want == tls_want::write) {
      if (own_.empty()) {
        own_.assign(reinterpret_cast<const char*>(frame.data()), frame.size());
      }
      writing_.reset();
      writing_async_ = true;
      write_started_ = steady::now();
      wait_tls_writable(r.want);
      schedule();
      return false;
    }
    tls_broken_ = true;
    finish();
    return false;
  }
}

void stream_session::wait_tls_writable(tls_want want) {
  const auto what = want == tls_want::read ? tcp::socket::wait_read : tcp::socket::wait_write;
  socket().async_wait(what, [self = shared_from_this()](const beast::error_code& ec) { self->on_tls_ready(ec); });
}

void stream_session::on_tls_ready(const beast::error_code& ec) {
  if (phase_ == phase::done || ec) {
    on_written(ec);
    return;
  }
  for (;;) {
    const auto r = tls_io_write(tls_, own_.data() + written_, total_ - written_);
    if (r.want == tls_want::done) {
      written_ += r.bytes;
      if (written_ == total_) {
        on_written({});
        return;
      }
      continue;
    }
    if (r.want == tls_want::read || r.want == tls_want::write) {
      wait_tls_writable(r.want);
      return;
    }
    tls_broken_ = true;
    on_written(net::error::connection_reset);
    return;
  }
}

void stream_session::on_written(const beast::error_code& ec) {
  writing_async_ = false;
  writing_.reset();
  own_.clear();
  if (phase_ == phase::done) {
    return;
  }
  if (ec) {
    finish();
    return;
  }
  pump();
  schedule();
}

// The earliest deadline that applies, for the sweep (run_deadline_sweep) to act on.

}  // namespace callsign::server::net_detail
