// GET /v1/stream: one WebSocket connection on its connection's strand. The session coroutine
// writes (outbox → socket) and a reader coroutine on the same strand reads (the auth message,
// control frames, the close handshake); they meet in `stream_state`, and a timer that never
// expires on its own is the wake-up signal. The protocol and the hub are Asio-free
// (server/stream_auth.hpp, server/stream_hub.hpp); see docs/stream.md.
#include <boost/beast/websocket.hpp>

#include <chrono>
#include <span>

#include "crypto/constant_time.hpp"
#include "crypto/totp.hpp"
#include "net/server_state.hpp"
#include "server/stream_auth.hpp"
#include "server/stream_hub.hpp"

namespace callsign::server::net_detail {

namespace {
namespace http = beast::http;
namespace websocket = beast::websocket;
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);
using steady = std::chrono::steady_clock;

// Touched only on the connection's strand.
struct stream_state {
  stream_state(std::shared_ptr<connection> c, const net::any_io_executor& executor)
      : conn(std::move(c)), ws(conn->stream), wake(executor), watchdog(executor) {}

  std::shared_ptr<connection> conn;
  websocket::stream<beast::tcp_stream&> ws;
  net::steady_timer wake;      // cancelled to wake the writer; never expires by itself
  net::steady_timer watchdog;  // closes the socket when a write is stuck
  beast::flat_buffer read_buffer;
  std::optional<std::string> auth_message;  // the first client message, until checked
  bool got_first = false;
  bool reader_done = false;
};

net::awaitable<void> read_loop(std::shared_ptr<stream_state> s) {
  for (;;) {
    auto [ec, bytes] = co_await s->ws.async_read(s->read_buffer, use_tuple);
    if (ec) {
      break;
    }
    if (!s->got_first) {
      s->got_first = true;
      s->auth_message = beast::buffers_to_string(s->read_buffer.data());
      // It holds the customer's JWT: do not leave a copy in the read buffer.
      auto held = s->read_buffer.data();
      crypto::secure_wipe(std::span<std::uint8_t>(static_cast<std::uint8_t*>(held.data()), held.size()));
    }
    // The protocol has no other client messages; later ones are read and dropped.
    s->read_buffer.consume(s->read_buffer.size());
    s->wake.cancel();
  }
  s->reader_done = true;
  s->wake.cancel();
}

void arm_watchdog(const std::shared_ptr<stream_state>& s, std::chrono::milliseconds limit) {
  s->watchdog.expires_after(limit);
  s->watchdog.async_wait([conn = s->conn](const beast::error_code& ec) {
    if (!ec) {
      beast::error_code ignored;
      conn->stream.socket().close(ignored);
    }
  });
}

net::awaitable<bool> write_text(std::shared_ptr<stream_state> s, const std::string& text,
                                std::chrono::milliseconds limit) {
  s->ws.text(true);
  auto buffer = net::buffer(text);
  arm_watchdog(s, limit);
  auto [ec, bytes] = co_await s->ws.async_write(buffer, use_tuple);
  s->watchdog.cancel();
  co_return !ec;
}

net::awaitable<result<std::string>> authenticate_on_worker(server_state& st, const std::string& message) {
  // Named, not a temporary inside the co_await: GCC 12 may destroy such temporaries twice.
  const std::string* text = &message;
  // co_spawn needs a default-constructible result: hence the optional.
  auto on_worker = [&st, text]() -> net::awaitable<std::optional<result<std::string>>> {
    co_return authenticate_stream(st.app, *text);
  };
  auto spawned = net::co_spawn(st.workers, std::move(on_worker), net::use_awaitable);
  auto outcome = co_await std::move(spawned);
  co_return std::move(*outcome);
}

}  // namespace

net::awaitable<void> run_stream_session(server_state& st, std::shared_ptr<connection> conn,
                                        http::request<http::string_body> req) {
  const auto& cfg = st.app.config.stream;
  auto executor = co_await net::this_coro::executor;
  conn->stream.expires_never();  // the websocket stream's own timeouts apply from here on
  auto s = std::make_shared<stream_state>(conn, executor);
  websocket::stream_base::timeout timeouts{};
  timeouts.handshake_timeout = st.app.config.request_timeout;
  timeouts.idle_timeout = cfg.idle_timeout;  // a ping after half of it, closed after all of it
  timeouts.keep_alive_pings = true;
  s->ws.set_option(timeouts);
  s->ws.read_message_max(cfg.max_message_bytes);
  s->ws.set_option(websocket::stream_base::decorator(
      [](websocket::response_type& res) { res.set(http::field::server, "callsign"); }));

  auto [accept_ec] = co_await s->ws.async_accept(req, use_tuple);
  if (accept_ec) {
    co_return;
  }
  std::weak_ptr<stream_state> weak = s;
  conn->on_drain = [weak] {
    if (auto alive = weak.lock()) {
      alive->wake.cancel();
    }
  };
  auto reader = read_loop(s);
  net::co_spawn(executor, std::move(reader), net::detached);

  auto auth_deadline = steady::now() + cfg.auth_timeout;
  std::shared_ptr<stream_subscriber> sub;
  std::string close_error;
  websocket::close_code close_code = websocket::close_code::policy_error;
  for (;;) {
    if (s->reader_done) {
      break;  // the peer closed or the connection broke: nothing more to say
    }
    if (st.app.draining.load()) {
      close_error = "server restarting";
      close_code = websocket::close_code::service_restart;
      break;
    }
    if (!sub) {
      if (s->auth_message) {
        std::string message = std::move(*s->auth_message);
        s->auth_message.reset();
        auto auth = authenticate_on_worker(st, message);
        auto who = co_await std::move(auth);
        crypto::secure_wipe(message);  // it holds the customer's JWT
        if (!who) {
          close_error = who.error().message;
          break;
        }
        auto wake = [weak, executor] {
          net::post(executor, [weak] {
            if (auto alive = weak.lock()) {
              alive->wake.cancel();
            }
          });
        };
        auto subscribed = st.app.streams->subscribe(*who, std::move(wake));
        if (!subscribed) {
          close_error = subscribed.error().message;
          close_code = websocket::close_code::try_again_later;
          break;
        }
        sub = std::move(*subscribed);
        // After subscribing, so a boundary push in between is never older than this one.
        auto first = stream_token_at(st.app, sub->user(), st.app.clock.unix_seconds());
        sub->push_token(first.step, std::make_shared<const std::string>(std::move(first.message)));
        st.app.log.info("stream subscribed", {{"user", sub->user()}});
        continue;
      }
      if (steady::now() >= auth_deadline) {
        close_error = "authentication timed out";
        break;
      }
    } else {
      if (sub->overflowed()) {
        close_error = "slow consumer";
        st.app.log.warn("stream closed: slow consumer", {{"user", sub->user()}});
        break;
      }
      bool failed = false;
      while (auto next = sub->pop()) {
        stream_message pending = std::move(*next);
        auto write = write_text(s, *pending, cfg.write_timeout);
        bool ok = co_await std::move(write);
        if (!ok) {
          failed = true;
          break;
        }
        if (s->reader_done || st.app.draining.load() || sub->overflowed()) {
          break;
        }
      }
      if (failed) {
        if (!s->reader_done) {
          st.app.log.warn("stream closed: write failed or stuck", {{"user", sub->user()}});
        }
        beast::error_code ignored;
        conn->stream.socket().close(ignored);
        break;
      }
      if (s->reader_done || st.app.draining.load() || sub->overflowed()) {
        continue;
      }
    }
    s->wake.expires_at(sub ? steady::time_point::max() : auth_deadline);
    co_await s->wake.async_wait(use_tuple);
  }

  if (sub) {
    st.app.streams->unsubscribe(sub);
  }
  if (!close_error.empty() && !s->reader_done) {
    auto limit = std::min<std::chrono::milliseconds>(cfg.write_timeout, std::chrono::milliseconds(2000));
    auto error_text = stream_error_message(close_error);
    auto write = write_text(s, error_text, limit);
    bool ok = co_await std::move(write);
    if (ok) {
      websocket::close_reason reason(close_code);
      arm_watchdog(s, limit);
      auto [close_ec] = co_await s->ws.async_close(reason, use_tuple);
      (void)close_ec;  // the reader sees how the close handshake ended
      s->watchdog.cancel();
    }
  }
  // The reader ends with the close handshake or the socket; give it a moment, then force it.
  auto give_up = steady::now() + std::chrono::seconds(2);
  bool forced = false;
  while (!s->reader_done) {
    if (!forced && steady::now() >= give_up) {
      beast::error_code ignored;
      conn->stream.socket().close(ignored);
      forced = true;
    }
    s->wake.expires_after(std::chrono::milliseconds(forced ? 20 : 200));
    co_await s->wake.async_wait(use_tuple);
  }
  conn->on_drain = nullptr;
}

net::awaitable<void> run_token_timer(server_state& st) {
  const auto& params = st.app.config.phone_token;
  net::steady_timer timer(st.ioc);
  while (!st.app.draining.load()) {
    auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(st.app.clock.now().time_since_epoch()).count();
    auto step = crypto::totp_step(params, now_ms / 1000);
    auto boundary_ms = (params.t0 + static_cast<std::int64_t>(step + 1) * params.period) * 1000;
    timer.expires_after(std::chrono::milliseconds(std::max<std::int64_t>(boundary_ms - now_ms, 0) + 2));
    co_await timer.async_wait(use_tuple);
    if (st.app.draining.load() || st.app.streams == nullptr) {
      break;
    }
    auto at = st.app.clock.unix_seconds();
    auto users = st.app.streams->users();
    for (const auto& user : users) {
      // Computed and encoded once per user, shared by all of that user's streams.
      auto token = stream_token_at(st.app, user, at);
      auto message = std::make_shared<const std::string>(std::move(token.message));
      st.app.streams->publish_token(user, token.step, message);
    }
  }
}

}  // namespace callsign::server::net_detail
