// GET /v1/stream: one WebSocket connection, as one small callback-driven object on the
// connection's I/O thread. Beast performs the upgrade handshake; after it the session owns the bare
// socket and frames with server/websocket_frame.hpp, because a resident Beast websocket::stream
// and two coroutine frames per connection cost several kilobytes each (docs/stream.md, "Memory").
//
// Per connection, between events, there is only: this object, the connection (socket + the idle
// tcp_stream wrapper the HTTP session used), one pending "socket readable" wait, the hub's
// subscriber, and the I/O thread's context. No timer: one sweep checks every session's next deadline
// (run_deadline_sweep). Reads go into one buffer per I/O thread.
// Writes are attempted at once without blocking; only a write the kernel cannot take whole
// becomes an asynchronous write, watched by the write timeout.
// Over TLS (WSS) the same session reads and writes through OpenSSL on the same non-blocking
// socket (net/tls_stream.hpp): each frame is one SSL_write, and a frame OpenSSL cannot send at
// once is finished when the socket is ready again. The plain path is untouched by it but for
// one branch per read and write.
//
// The protocol and the hub are Asio-free (server/stream_auth.hpp, server/stream_hub.hpp,
// server/websocket_frame.hpp); see docs/stream.md.
#include <boost/beast/websocket.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <limits>
#include <span>

#include "crypto/constant_time.hpp"
#include "crypto/totp.hpp"
#include "net/server_state.hpp"
#include "net/tls_stream.hpp"
#include "server/stream_auth.hpp"
#include "server/stream_hub.hpp"
#include "server/websocket_frame.hpp"

namespace callsign::server::net_detail {

namespace {
namespace http = beast::http;
namespace websocket = beast::websocket;
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);
using steady = std::chrono::steady_clock;
using std::chrono::milliseconds;

// How long a close the server starts may take (error message, close frame, the peer's reply).
constexpr milliseconds close_limit{2000};

// The kernel send buffer of a stream socket (Linux doubles it, and keeps it from autotuning up to
// net.ipv4.tcp_wmem's maximum, 4 MiB here). Stream messages are 60-300 bytes: a client that has
// not read a few hundred of them is a slow consumer, and should meet the outbox bound and the
// write timeout rather than pin megabytes of kernel memory.
constexpr int send_buffer_bytes = 16 * 1024;

// The upgrade over TLS: Beast's handshake needs a stream; this one lives only until the 101.
struct tls_upgrade {
  tls_upgrade(tcp::socket& socket, ssl_st* ssl) : stream(socket, ssl), ws(stream) {}
  tls_stream stream;
  websocket::stream<tls_stream&> ws;
};

std::int64_t steady_ms(steady::time_point t) {
  return std::chrono::duration_cast<milliseconds>(t.time_since_epoch()).count();
}

class stream_session final : public std::enable_shared_from_this<stream_session>, public stream_deadline {
 public:
  stream_session(server_state& st, std::shared_ptr<connection> conn)
      : st_(st),
        cfg_(st.app.config.stream),
        conn_(std::move(conn)),
        tls_(conn_->tls.get()),
        deadlines_(st.app.streams->deadlines()),
        reader_(cfg_.max_message_bytes) {}
  ~stream_session() override { deadlines_->remove(*this); }
  stream_session(const stream_session&) = delete;
  stream_session& operator=(const stream_session&) = delete;

  void start(http::request<http::string_body> req);

  // From the deadline sweep (another thread): hop to the connection's I/O thread.
  void on_deadline() override {
    if (auto self = weak_from_this().lock()) {
      auto executor = conn_->stream.get_executor();
      net::post(executor, [self] { self->on_timer(); });
    }
  }

 private:
  enum class phase : std::uint8_t { handshake, open, closing, done };

  tcp::socket& socket() { return conn_->stream.socket(); }

  void on_accepted(const beast::error_code& ec);
  void wait_readable();
  void on_readable(const beast::error_code& ec);
  void handle(ws_event& ev);
  void authenticate(std::string message);
  void on_authenticated(result<std::string> who);
  void begin_close(std::uint16_t code, std::string error);
  void pump();
  bool write_now(std::span<const std::uint8_t> payload);
  bool write_tls(std::span<const std::uint8_t> payload);
  void wait_tls_writable(tls_want want);
  void on_tls_ready(const beast::error_code& ec);
  void on_written(const beast::error_code& ec);
  void schedule();
  void on_timer();
  void finish();

  server_state& st_;
  const stream_config& cfg_;
  std::shared_ptr<connection> conn_;
  ssl_st* tls_;  // the connection's TLS session (owned by conn_), or null for plain ws://
  std::uint64_t registry_id_ = 0;
  std::shared_ptr<stream_deadlines> deadlines_;  // swept by run_deadline_sweep
  steady::time_point deadline_{};    // handshake or auth deadline, then the close deadline
  steady::time_point last_read_{};   // for keep-alive pings and the idle timeout
  steady::time_point write_started_{};
  ws_reader reader_;
  std::unique_ptr<websocket::stream<tcp::socket&>> handshake_;  // only during a plain upgrade
  std::unique_ptr<tls_upgrade> tls_handshake_;                  // only during a TLS upgrade
  std::unique_ptr<http::request<http::string_body>> request_;   // only during the upgrade
  std::shared_ptr<stream_subscriber> sub_;
  stream_message writing_;  // the shared payload being written (a token or notice)
  std::string own_;         // a whole frame of this session's own being written (pong, error, close)
  std::string pong_;        // the payload of a pong still to send
  std::string close_error_;
  std::array<std::uint8_t, 10> header_{};
  std::size_t written_ = 0;  // bytes of the current frame already written
  std::size_t total_ = 0;    // bytes of the current frame
  std::uint16_t close_code_ = 0;
  phase phase_ = phase::handshake;
  bool reading_ = false;        // a readable-wait is pending
  bool writing_async_ = false;  // an asynchronous write is pending
  bool auth_started_ = false;
  bool pong_due_ = false;
  bool ping_due_ = false;
  bool ping_sent_ = false;
  bool error_sent_ = false;
  bool close_sent_ = false;
  bool peer_closed_ = false;
  bool tls_broken_ = false;       // OpenSSL reported the peer gone or an error: no close_notify
  bool read_wants_write_ = false;  // OpenSSL must write before it can read again
};

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
        authenticate(std::move(ev.payload));
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
    auto who = authenticate_stream(self->st_.app, message);
    crypto::secure_wipe(message);
    auto executor = self->conn_->stream.get_executor();
    net::post(executor, [self, who = std::move(who)]() mutable { self->on_authenticated(std::move(who)); });
  });
}

void stream_session::on_authenticated(result<std::string> who) {
  if (phase_ != phase::open) {
    return;
  }
  if (!who) {
    begin_close(ws_close::policy_violation, who.error().message);
    return;
  }
  std::weak_ptr<stream_session> weak = weak_from_this();
  // Called by publishers on any thread; at most once until the outbox is drained (stream_hub).
  auto wake = [weak] {
    if (auto self = weak.lock()) {
      auto executor = self->conn_->stream.get_executor();
      net::post(executor, [self] { self->pump(); });
    }
  };
  auto subscribed = st_.app.streams->subscribe(*who, std::move(wake));
  if (!subscribed) {
    begin_close(ws_close::try_again_later, subscribed.error().message);
    return;
  }
  sub_ = std::move(*subscribed);
  // After subscribing, so a boundary push in between is never older than this one.
  auto first = stream_token_at(st_.app, sub_->user(), st_.app.clock.unix_seconds());
  sub_->push_token(first.step, std::make_shared<const std::string>(std::move(first.message)));
  st_.app.log.info("stream subscribed", {{"user", sub_->user()}});
  schedule();
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
  if (sub_) {
    st_.app.streams->unsubscribe(sub_);
    sub_.reset();
  }
  deadline_ = steady::now() + std::min<milliseconds>(cfg_.write_timeout, close_limit);
  pump();
  schedule();
}

// Writes what is due, in order: a pong, the close sequence, a keep-alive ping, the outbox.
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
  if (sub_) {
    st_.app.streams->unsubscribe(sub_);
    sub_.reset();
  }
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

}  // namespace

void start_stream_session(server_state& st, std::shared_ptr<connection> conn,
                          http::request<http::string_body> req) {
  conn->stream.expires_never();  // the session's own deadlines apply from here on
  auto session = std::make_shared<stream_session>(st, std::move(conn));
  session->start(std::move(req));
}

// Every open stream's deadlines, checked ten times a second: one timer for all connections.
net::awaitable<void> run_deadline_sweep(server_state& st) {
  net::steady_timer timer(st.ioc);
  auto deadlines = st.app.streams->deadlines();
  const auto interval = milliseconds(100);
  for (;;) {
    timer.expires_after(interval);
    co_await timer.async_wait(use_tuple);
    if (st.app.streams == nullptr) {
      break;
    }
    deadlines->sweep(steady_ms(steady::now()));
    if (st.app.draining.load() && deadlines->size() == 0) {
      break;
    }
  }
}

net::awaitable<void> run_token_timer(server_state& st) {
  if (st.app.streams != nullptr) {
    net::co_spawn(st.ioc, run_deadline_sweep(st), net::detached);
  }
  const auto& params = st.app.config.phone_token;
  net::steady_timer timer(st.ioc);
  while (!st.app.draining.load()) {
    auto now_ms = std::chrono::duration_cast<milliseconds>(st.app.clock.now().time_since_epoch()).count();
    auto step = crypto::totp_step(params, now_ms / 1000);
    auto boundary_s = params.t0 + static_cast<std::int64_t>(step + 1) * params.period;
    auto boundary_ms = boundary_s * 1000;
    // The next step's tokens are computed ahead of the boundary (on the worker pool), so at the
    // boundary only the fan-out is left. A quarter period, at most 500 ms, is enough for
    // tens of thousands of users.
    auto lead_ms = std::min<std::int64_t>(500, params.period * 250);
    timer.expires_after(milliseconds(std::max<std::int64_t>(boundary_ms - lead_ms - now_ms, 0)));
    co_await timer.async_wait(use_tuple);
    if (st.app.draining.load() || st.app.streams == nullptr) {
      break;
    }
    auto users = st.app.streams->users();  // sorted
    auto compute = [&st, &users, boundary_s]() -> net::awaitable<std::vector<stream_token>> {
      std::vector<stream_token> tokens;
      tokens.reserve(users.size());
      for (const auto& user : users) {
        tokens.push_back(stream_token_at(st.app, user, boundary_s));
      }
      co_return tokens;
    };
    auto spawned = net::co_spawn(st.workers, std::move(compute), net::use_awaitable);
    auto tokens = co_await std::move(spawned);
    std::vector<stream_message> frames;
    frames.reserve(tokens.size());
    for (auto& token : tokens) {
      frames.push_back(std::make_shared<const std::string>(std::move(token.message)));
    }

    now_ms = std::chrono::duration_cast<milliseconds>(st.app.clock.now().time_since_epoch()).count();
    timer.expires_after(milliseconds(std::max<std::int64_t>(boundary_ms - now_ms, 0) + 1));
    co_await timer.async_wait(use_tuple);
    if (st.app.draining.load()) {
      break;
    }
    // One encoded message per user, shared by all of that user's streams.
    for (std::size_t i = 0; i < users.size(); ++i) {
      st.app.streams->publish_token(users[i], tokens[i].step, frames[i]);
    }
    // Users who subscribed while the tokens were being computed.
    auto now_users = st.app.streams->users();
    for (const auto& user : now_users) {
      if (!std::binary_search(users.begin(), users.end(), user)) {
        auto token = stream_token_at(st.app, user, boundary_s);
        st.app.streams->publish_token(user, token.step, std::make_shared<const std::string>(std::move(token.message)));
      }
    }
  }
}

}  // namespace callsign::server::net_detail
