// The timers behind every stream: the deadline sweep (one timer for all connections, over
// server/timing/deadline_wheel.hpp), the step-boundary token timer (docs/stream.md) and the
// admin console's one-second tick (docs/admin-console.md).
#include "net/stream_session.hpp"

namespace callsign::server::net_detail {

// Every open stream's deadlines, checked ten times a second: one timer for all connections.
net::awaitable<void> run_deadline_sweep(server_state& st) {
  net::steady_timer timer(st.ioc);
  auto deadlines = st.app.streams->deadlines();
  const auto interval = milliseconds(100);
  for (;;) {
    timer.expires_after(interval);
    co_await timer.async_wait(stream_use_tuple);
    if (st.app.streams == nullptr) {
      break;
    }
    deadlines->sweep(steady_ms(steady::now()));
    if (st.app.draining.load() && deadlines->size() == 0) {
      break;
    }
  }
}

namespace {

// How many streams one turn of an I/O thread's boundary walk serves before the thread runs its
// other handlers (reads, requests, pongs) again: 256 frames are about 2-3 ms of send calls here.
constexpr std::size_t fanout_frames_per_turn = 256;

void run_fanout_turn(net::io_context& context, std::shared_ptr<stream_fanout> fanout) {
  if (fanout->deliver(fanout_frames_per_turn)) {
    net::post(context, [&context, fanout = std::move(fanout)]() mutable { run_fanout_turn(context, std::move(fanout)); });
  }
}

// Users who subscribed while the table was being built get theirs through the hub, after the
// same access check (auth passed moments ago; one who lost access since is closed at the next
// boundary, and gets no code now).
void publish_to_latecomers(const app_context& app, const stream_token_table& table, std::int64_t boundary_s) {
  for (const auto& user : app.streams->users()) {
    if (table.find(user) == nullptr && stream_user_access(app, user) == stream_access::allowed) {
      auto token = stream_token_at(app, user, boundary_s);
      app.streams->publish_token(user, token.step, std::make_shared<const std::string>(std::move(token.message)));
    }
  }
}

}  // namespace

net::awaitable<void> run_token_timer(server_state& st) {
  if (st.app.streams != nullptr) {
    net::co_spawn(st.ioc, run_deadline_sweep(st), net::detached);
  }
  const auto& params = st.app.config.phone_token;
  net::steady_timer timer(st.ioc);
  // The last boundary's table: kept until the next one is built, so that its 2 x users
  // allocations are freed on the worker pool, not by whichever I/O thread ends its walk last.
  std::shared_ptr<const stream_token_table> previous;
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
    co_await timer.async_wait(stream_use_tuple);
    if (st.app.draining.load() || st.app.streams == nullptr) {
      break;
    }
    // Read before the snapshot: a subscription racing with it shows up as a change.
    const auto subscriptions = st.app.streams->subscriptions();
    auto compute = [&st, boundary_s, old = std::move(previous)]() mutable
        -> net::awaitable<std::shared_ptr<const stream_token_table>> {
      old.reset();
      auto users = st.app.streams->users();
      co_return build_stream_token_table(st.app, std::move(users), boundary_s);
    };
    auto spawned = net::co_spawn(st.workers, std::move(compute), net::use_awaitable);
    auto table = co_await std::move(spawned);
    // Each I/O thread looks its streams' users up now, so that the boundary's walk only writes.
    for (std::size_t i = 0; i < st.io_contexts.size(); ++i) {
      net::post(*st.io_contexts[i], [fanout = st.fanouts[i], table] { fanout->prepare(table); });
    }

    now_ms = std::chrono::duration_cast<milliseconds>(st.app.clock.now().time_since_epoch()).count();
    timer.expires_after(milliseconds(std::max<std::int64_t>(boundary_ms - now_ms, 0) + 1));
    co_await timer.async_wait(stream_use_tuple);
    if (st.app.draining.load()) {
      break;
    }
    // One task per I/O thread: each walks its own subscribed streams and writes each one its
    // user's shared message (one encoded message per user).
    for (std::size_t i = 0; i < st.io_contexts.size(); ++i) {
      auto& context = *st.io_contexts[i];
      net::post(context, [&context, fanout = st.fanouts[i], table]() mutable {
        fanout->begin(std::move(table));
        run_fanout_turn(context, std::move(fanout));
      });
    }
    if (st.app.streams->subscriptions() != subscriptions) {
      net::post(st.workers, [&st, table, boundary_s] { publish_to_latecomers(st.app, *table, boundary_s); });
    }
    previous = std::move(table);
  }
}

// Just after each whole second of the injected clock, the second that ended is sampled
// (admin_stream.hpp): a spike reaches the console within about a second.
net::awaitable<void> run_admin_tick_timer(server_state& st) {
  net::steady_timer timer(st.ioc);
  while (!st.app.draining.load() && st.app.live != nullptr) {
    const auto now_ms = std::chrono::duration_cast<milliseconds>(st.app.clock.now().time_since_epoch()).count();
    const auto next_ms = (now_ms / 1000 + 1) * 1000;
    timer.expires_after(milliseconds(next_ms - now_ms + 5));
    co_await timer.async_wait(stream_use_tuple);
    if (st.app.draining.load()) break;
    publish_admin_tick(st.app, st.app.clock.unix_seconds() - 1);
  }
}

}  // namespace callsign::server::net_detail
