// The two timers behind every stream: the deadline sweep (one timer for all connections, over
// server/stream_deadlines.hpp) and the step-boundary token timer. See docs/stream.md.
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
    co_await timer.async_wait(stream_use_tuple);
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
    co_await timer.async_wait(stream_use_tuple);
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
