// redis::client: the thread that runs the io_context, and the calls other threads make.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <exception>
#include <mutex>
#include <thread>

#include "client_core.hpp"
#include "resp_encoding.hpp"
#include "storage/round_trip_tally.hpp"

namespace callsign::redis {

namespace {

// The waits of answered execs (latency_histogram, non-cumulative here). Thread-safety: atomics.
struct latency_counts {
  std::array<std::atomic<std::uint64_t>, latency_histogram::bounds_seconds.size()> within{};
  std::atomic<std::uint64_t> count{0};
  std::atomic<std::uint64_t> sum_nanos{0};

  void add(std::chrono::steady_clock::duration waited) {
    const double seconds = std::chrono::duration<double>(waited).count();
    const auto& bounds = latency_histogram::bounds_seconds;
    if (auto at = std::lower_bound(bounds.begin(), bounds.end(), seconds); at != bounds.end()) {
      within[static_cast<std::size_t>(at - bounds.begin())].fetch_add(1, std::memory_order_relaxed);
    }
    count.fetch_add(1, std::memory_order_relaxed);
    const auto nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(waited).count();
    sum_nanos.fetch_add(static_cast<std::uint64_t>(nanos), std::memory_order_relaxed);
  }

  latency_histogram snapshot() const {
    latency_histogram out;
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < within.size(); ++i) {
      cumulative += within[i].load(std::memory_order_relaxed);
      out.at_most[i] = cumulative;
    }
    out.count = count.load(std::memory_order_relaxed);
    out.sum_seconds = static_cast<double>(sum_nanos.load(std::memory_order_relaxed)) / 1e9;
    return out;
  }
};

// Wraps an exec's completion: it records the exec's wait in `latency`, and it counts the exec for
// the caller's request when the caller is inside a round_trip_scope, running the completion
// inside that scope again on the client's thread, so the calls a continuation makes count for
// the same request (storage/round_trip_tally.hpp).
storage::completion<std::vector<reply>> observed(storage::completion<std::vector<reply>> done,
                                                 latency_counts& latency) {
  const storage::round_trip_tally& tally = storage::current_round_trip_tally();
  if (tally) tally->fetch_add(1, std::memory_order_relaxed);
  return [tally, &latency, started = std::chrono::steady_clock::now(),
          done = std::move(done)](result<std::vector<reply>> replies) {
    latency.add(std::chrono::steady_clock::now() - started);
    storage::round_trip_scope scope(tally);
    if (done) done(std::move(replies));
  };
}

// Thread-safety: every public member may be called from any thread; `lifecycle_` orders
// posts against stop(), so nothing is posted after the thread may have left run().
class client_impl final : public client {
 public:
  client_impl(client_options options, client_callbacks callbacks, std::vector<std::string> channels)
      : core_(std::move(options), std::move(callbacks), std::move(channels)), work_(core_.io.get_executor()) {
    auto rethrow = [](const std::exception_ptr& failure) {
      if (failure) std::rethrow_exception(failure);  // a bug: let it end the process loudly
    };
    asio::co_spawn(core_.io, run_primary_link(core_), rethrow);
    if (!core_.options.sentinels.empty()) asio::co_spawn(core_.io, run_sentinel_watch(core_), rethrow);
    if (!core_.channels.empty()) asio::co_spawn(core_.io, run_subscriber(core_), rethrow);
    thread_ = std::thread([this] { core_.io.run(); });
  }
  ~client_impl() override { stop(); }

  void exec(std::vector<command> commands, storage::completion<std::vector<reply>> done) override {
    std::string encoded;
    for (const auto& cmd : commands) append_command(encoded, cmd);
    post_submit(std::move(encoded), commands.size(), observed(std::move(done), latency_));
  }

  void exec_acknowledged(std::vector<command> commands, replica_ack ack,
                         storage::completion<std::vector<reply>> done) override {
    std::string encoded;
    for (const auto& cmd : commands) append_command(encoded, cmd);
    done = observed(std::move(done), latency_);
    {
      std::lock_guard lock(lifecycle_);
      if (!stopped_) {
        asio::post(core_.io, [this, encoded = std::move(encoded), count = commands.size(), ack,
                              done = std::move(done)]() mutable {
          core_.submit_acknowledged(std::move(encoded), count, ack, std::move(done));
        });
        return;
      }
    }
    if (done) done(make_error(error_kind::unavailable, "redis: client stopped"));
  }

  void send(command cmd) override {
    std::string encoded;
    append_command(encoded, cmd);
    post_submit(std::move(encoded), 1, {});
  }

  client_status status() const override { return core_.status(); }
  std::uint64_t round_trips() const override { return core_.round_trips.load(std::memory_order_relaxed); }
  latency_histogram round_trip_latency() const override { return latency_.snapshot(); }

  void stop() override {
    {
      std::lock_guard lock(lifecycle_);
      if (stopped_) return;
      stopped_ = true;
      asio::post(core_.io, [this] { core_.shut_down(); });
      work_.reset();
    }
    // run() returns once every coroutine has ended and every posted call ran.
    if (thread_.joinable()) thread_.join();
  }

 private:
  void post_submit(std::string encoded, std::size_t count, storage::completion<std::vector<reply>> done) {
    {
      std::lock_guard lock(lifecycle_);
      if (!stopped_) {
        asio::post(core_.io, [this, encoded = std::move(encoded), count, done = std::move(done)]() mutable {
          core_.submit(std::move(encoded), count, std::move(done));
        });
        return;
      }
    }
    // Stopped: no thread to answer on, so the caller's thread answers.
    if (done) done(make_error(error_kind::unavailable, "redis: client stopped"));
  }

  latency_counts latency_;  // before core_: completions that core_'s shutdown runs record into it
  client_core core_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::mutex lifecycle_;
  bool stopped_ = false;
  std::thread thread_;
};

}  // namespace

void client::exec_acknowledged(std::vector<command> commands, replica_ack ack,
                               storage::completion<std::vector<reply>> done) {
  commands.push_back({"WAIT", std::to_string(ack.replicas), std::to_string(ack.timeout_ms)});
  exec(std::move(commands), std::move(done));
}

std::unique_ptr<client> client::start(client_options options, client_callbacks callbacks,
                                      std::vector<std::string> channels) {
  return std::make_unique<client_impl>(std::move(options), std::move(callbacks), std::move(channels));
}

}  // namespace callsign::redis
