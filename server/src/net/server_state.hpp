// Private to the net layer: one connection and the state every session shares.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "net/connection_registry.hpp"
#include "net/tls_context.hpp"
#include "server/app_context.hpp"
#include "server/http/router.hpp"
#include "server/stream/stream_fanout.hpp"
#include "server/timing/deadline_wheel.hpp"

namespace callsign::server::net_detail {

namespace net = boost::asio;
namespace beast = boost::beast;
using tcp = net::ip::tcp;

struct connection;

// A plain HTTP connection's timeout, filed in the stream hub's deadline wheel
// (server/timing/deadline_wheel.hpp), which net/stream_timers.cpp sweeps every 100 ms:
// net/phase_deadline.hpp arms it for each phase of an exchange. Instead of beast::tcp_stream's
// timer, which cost a timer-queue insert and a cancelled wait per read and per write, and whose
// state (three timers) cost about 540 B per connection.
class connection_deadline final : public deadline_entry {
 public:
  explicit connection_deadline(connection& owner) : owner_(owner) {}
  // On the sweeping thread, under the wheel's lock: posts the check to the connection's thread,
  // and returns the connection for the sweep to release after its lock.
  std::shared_ptr<void> on_deadline() override;
  // When the phase in progress must end (steady_ms), or never between phases. Touched only on
  // the connection's I/O thread; the wheel's due is only the wake-up for it.
  std::int64_t until_ms = never;

 private:
  connection& owner_;
};

// Thread-safety: touched only on its I/O thread (its io_context), except `idle`, read by shutdown,
// and `deadline`'s due, read by the deadline sweep.
struct connection : std::enable_shared_from_this<connection> {
  explicit connection(tcp::socket&& accepted) : socket(std::move(accepted)) {}
  ~connection() {
    if (wheel) wheel->remove(deadline);  // waits for a sweep that is calling on_deadline
  }
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  tcp::socket socket;
  connection_deadline deadline{*this};
  std::shared_ptr<deadline_wheel> wheel;  // where `deadline` is filed: set for plain HTTP
  tls_handle tls;  // set on the HTTPS/WSS listener's connections; OpenSSL then owns the socket's bytes
  std::atomic<bool> idle{false};  // waiting for the next request's header
  std::function<void()> on_drain;  // set by a WebSocket session; called on its I/O thread at shutdown
};

inline std::int64_t steady_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// On the connection's thread: closes it if its phase is overdue. The pending read or write then
// ends with operation_aborted and the session ends without a reply, as at beast's timeout.
inline void expire_if_overdue(connection& conn) {
  auto& deadline = conn.deadline;
  if (deadline.until_ms == deadline_entry::never) return;  // the phase ended in time
  if (steady_now_ms() < deadline.until_ms) {
    deadline.set_due(deadline.until_ms);  // a later phase: its wake-up may have raced the sweep's reset
    return;
  }
  deadline.until_ms = deadline_entry::never;
  beast::error_code ignored;
  conn.socket.close(ignored);
}

inline std::shared_ptr<void> connection_deadline::on_deadline() {
  auto conn = owner_.weak_from_this().lock();
  if (!conn) return nullptr;  // being destroyed: its destructor removes it once this sweep is done
  net::post(conn->socket.get_executor(), [conn] { expire_if_overdue(*conn); });
  // The posted check may run and the session end before this returns: this reference is then
  // the last, and the sweep drops it after its lock.
  return conn;
}

struct server_state {
  app_context& app;
  const router& routes;
  net::io_context& ioc;
  net::thread_pool& workers;
  connection_registry<connection> connections;
  std::string request_id_prefix;
  std::atomic<std::uint64_t> request_counter{0};
  // One per I/O thread; io_contexts[0] is `ioc`. New connections go to each in turn.
  std::vector<net::io_context*> io_contexts;
  std::atomic<std::size_t> next_context{0};
  // fanouts[i]: the subscribed streams of io_contexts[i], touched only by its thread. Shared,
  // so that sessions destroyed with their context at shutdown can still leave it.
  std::vector<std::shared_ptr<stream_fanout>> fanouts;

  net::io_context::executor_type next_io_executor() {
    const auto i = next_context.fetch_add(1, std::memory_order_relaxed) % io_contexts.size();
    return io_contexts[i]->get_executor();
  }

  // The fan-out of the I/O thread that runs `executor` (a connection's).
  std::shared_ptr<stream_fanout> fanout_of(const net::any_io_executor& executor) {
    const auto* context = &net::query(executor, net::execution::context_as<net::execution_context&>);
    for (std::size_t i = 0; i < io_contexts.size(); ++i) {
      if (static_cast<const net::execution_context*>(io_contexts[i]) == context) {
        return fanouts[i];
      }
    }
    return fanouts.front();  // not reached: every connection runs on one of io_contexts
  }
};

// Serves one connection until it closes, the peer goes quiet, or the server drains. A TLS
// connection (conn->tls set) first completes its handshake under limits.request_timeout_ms.
net::awaitable<void> run_session(server_state& st, std::shared_ptr<connection> conn);

// Takes over an upgraded stream route (Origin already checked) and returns at once: the
// WebSocket session keeps the connection (and its place in `connections`) until it closes, so
// the HTTP session's coroutine frame and buffers are freed. `kind` says which protocol it speaks:
// the customer's codes (docs/stream.md) or the admin console's series (docs/admin-console.md).
void start_stream_session(server_state& st, std::shared_ptr<connection> conn,
                          beast::http::request<beast::http::string_body> req, upgrade_kind kind);

// The admin console's one-second tick: samples app.live for each second that ends and sends the
// tick to every admin stream. Runs until the server drains.
net::awaitable<void> run_admin_tick_timer(server_state& st);

// The one step-boundary timer: at every boundary, each subscribed user's token is computed
// once and handed to all of that user's streams. Runs until the server drains.
net::awaitable<void> run_token_timer(server_state& st);

// Over a cap or while draining: a plain connection gets a 503 (with Retry-After and `reason`)
// before any request is read, then is closed; a TLS one is just closed (a handshake would spend
// the CPU the cap is protecting). Never waits: the 503 is written by a detached coroutine.
void refuse_connection(tcp::socket socket, bool tls, std::string_view reason);

}  // namespace callsign::server::net_detail
