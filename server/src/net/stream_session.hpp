// Private to the net layer: the GET /v1/stream session object (see stream_session.cpp for
// the design). Its members are defined in stream_session.cpp (upgrade, reads, protocol,
// deadlines) and stream_session_writes.cpp (the write path, plain and TLS).
#pragma once

#include <algorithm>
#include <array>
#include <boost/beast/websocket.hpp>
#include <chrono>
#include <limits>
#include <span>

#include "crypto/constant_time.hpp"
#include "crypto/totp.hpp"
#include "net/server_state.hpp"
#include "net/tls_stream.hpp"
#include "server/stream/admin_stream.hpp"
#include "server/stream/stream_auth.hpp"
#include "server/stream/stream_fanout.hpp"
#include "server/stream/stream_hub.hpp"
#include "server/stream/stream_token_expiry.hpp"
#include "server/stream/websocket_frame.hpp"

namespace callsign::server::net_detail {

namespace http = beast::http;
namespace websocket = beast::websocket;

inline constexpr auto stream_use_tuple = net::as_tuple(net::use_awaitable);
using steady = std::chrono::steady_clock;
using std::chrono::milliseconds;

// How long a close the server starts may take (error message, close frame, the peer's reply).
inline constexpr milliseconds close_limit{2000};

// The kernel send buffer of a stream socket (Linux doubles it, and keeps it from autotuning up to
// net.ipv4.tcp_wmem's maximum, 4 MiB here). Stream messages are 60-300 bytes: a client that has
// not read a few hundred of them is a slow consumer, and should meet the outbox bound and the
// write timeout rather than pin megabytes of kernel memory.
inline constexpr int send_buffer_bytes = 16 * 1024;

// The upgrade over TLS: Beast's handshake needs a stream; this one lives only until the 101.
struct tls_upgrade {
  tls_upgrade(tcp::socket& socket, ssl_st* ssl) : stream(socket, ssl), ws(stream) {}
  tls_stream stream;
  websocket::stream<tls_stream&> ws;
};

inline std::int64_t steady_ms(steady::time_point t) {
  return std::chrono::duration_cast<milliseconds>(t.time_since_epoch()).count();
}

class stream_session final : public std::enable_shared_from_this<stream_session>,
                             public deadline_entry,
                             public stream_fanout_member {
 public:
  stream_session(server_state& st, std::shared_ptr<connection> conn, upgrade_kind kind)
      : st_(st),
        kind_(kind),
        cfg_(st.app.config.stream),
        conn_(std::move(conn)),
        tls_(conn_->tls.get()),
        deadlines_(st.app.streams->deadlines()),
        reader_(cfg_.max_message_bytes) {}
  ~stream_session() override {
    deadlines_->remove(*this);
    if (fanout_) {
      fanout_->remove(*this);  // only at shutdown: a subscribed session leaves in finish()
    }
  }
  stream_session(const stream_session&) = delete;
  stream_session& operator=(const stream_session&) = delete;

  void start(http::request<http::string_body> req);

  // From the deadline sweep (another thread, under the wheel's lock): hop to the connection's
  // I/O thread. The session is returned for the sweep to release after its lock, since the timer
  // may run and the session end before this returns (deadline_entry::on_deadline).
  std::shared_ptr<void> on_deadline() override {
    auto self = weak_from_this().lock();
    if (self) {
      auto executor = conn_->socket.get_executor();
      net::post(executor, [self] { self->on_timer(); });
    }
    return self;
  }

  // The step-boundary fan-out of this session's I/O thread (stream_fanout.hpp).
  std::string_view fanout_user() const override { return sub_->user(); }
  void deliver_token(const stream_token_table::entry& token, std::int64_t at) override;

 private:
  enum class phase : std::uint8_t { handshake, open, closing, done };

  tcp::socket& socket() { return conn_->socket; }

  void on_accepted(const beast::error_code& ec);
  void wait_readable();
  void on_readable(const beast::error_code& ec);
  void handle(ws_event& ev);
  void authenticate(std::string message);
  void on_authenticated(result<stream_grant> who);
  void begin_close(std::uint16_t code, std::string error);
  std::int64_t unix_now_ms() const;
  void arm_expiry();
  void close_expired();
  void pump();
  bool write_now(std::span<const std::uint8_t> payload);
  bool write_tls(std::span<const std::uint8_t> payload);
  void wait_tls_writable(tls_want want);
  void on_tls_ready(const beast::error_code& ec);
  void on_written(const beast::error_code& ec);
  void schedule();
  void on_timer();
  void finish();
  void leave_hub();

  // The customer's stream or the admin console's: which hub, auth and first message.
  stream_hub& hub() const {
    return kind_ == upgrade_kind::admin_stream ? *st_.app.admin_streams : *st_.app.streams;
  }

  server_state& st_;
  const upgrade_kind kind_;
  const stream_config& cfg_;
  std::shared_ptr<connection> conn_;
  ssl_st* tls_;  // the connection's TLS session (owned by conn_), or null for plain ws://
  std::uint64_t registry_id_ = 0;
  std::shared_ptr<deadline_wheel> deadlines_;  // swept by run_deadline_sweep
  steady::time_point deadline_{};    // handshake or auth deadline, then the close deadline
  steady::time_point last_read_{};   // for keep-alive pings and the idle timeout
  steady::time_point write_started_{};
  // The auth token's exp + leeway (unix seconds, on the injected clock), and that moment on the
  // steady clock for the sweep; nothing is sent from then on (docs/stream.md, "Closes").
  std::int64_t valid_until_ = std::numeric_limits<std::int64_t>::max();
  steady::time_point expiry_ = steady::time_point::max();
  ws_reader reader_;
  std::unique_ptr<websocket::stream<tcp::socket&>> handshake_;  // only during a plain upgrade
  std::unique_ptr<tls_upgrade> tls_handshake_;                  // only during a TLS upgrade
  std::unique_ptr<http::request<http::string_body>> request_;   // only during the upgrade
  std::shared_ptr<stream_subscriber> sub_;
  std::shared_ptr<stream_fanout> fanout_;  // this I/O thread's, while subscribed (and after)
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

}  // namespace callsign::server::net_detail
