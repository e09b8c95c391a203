// Model: one io_context per I/O thread, each run by that thread alone. A connection is accepted
// onto the next context in turn and stays there, so its handlers never run concurrently without
// a strand, and a request's read, handler and write all happen on one thread: no hand-offs and
// no shared scheduler lock between the I/O threads. The first context also runs the acceptor,
// the signals and the timers. Handlers that may block on disk run on a separate worker pool and
// their result is posted back to the connection's context.
#include <pthread.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <random>
#include <thread>

#include "net/server_state.hpp"
#include "net/tls_context.hpp"
#include "server/http/problem.hpp"
#include "server/control/hangup_reload.hpp"
#include "server/lists/list_registry.hpp"
#include "server/observability/descriptor_limit.hpp"
#include "server/observability/systemd_notify.hpp"
#include "server/net/http_server.hpp"
#include "server/observability/background_audit.hpp"
#include "server/cluster/cluster_link.hpp"
#include "server/stream/stream_hub.hpp"

namespace callsign::server {

using namespace net_detail;

namespace {
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

// SIGHUP: the configured certificate and key are loaded again and replace the current pair only if
// they load, so a half-written, unreadable or mismatched file leaves the old pair serving.
// Audited as tls.reload (admin "sighup"), the error or the new certificate's subject and expiry.
void reload_tls_context(app_context& app, const tls_config& cfg, tls_context_slot& slot) {
  auto loaded = tls_context::load(cfg);
  if (!loaded) {
    app.log.error("tls certificate not reloaded; the current one keeps serving", {{"error", loaded.error().message}});
    auto audit = background_audit(app.clock, sighup_actor, "tls.reload", "rejected");
    audit.details.emplace_back("error", loaded.error().message.substr(0, 512));
    submit_background_audit(app.writer, app.log, std::move(audit));
    return;
  }
  std::shared_ptr<const tls_context> next(std::move(loaded).value());
  app.log.info("tls certificate reloaded",
               {{"subject", next->certificate_subject()}, {"not_after", next->certificate_not_after()}});
  auto audit = background_audit(app.clock, sighup_actor, "tls.reload", "reloaded");
  audit.details.emplace_back("subject", next->certificate_subject().substr(0, 512));
  audit.details.emplace_back("not_after", next->certificate_not_after().substr(0, 64));
  submit_background_audit(app.writer, app.log, std::move(audit));
  slot.replace(std::move(next));
}

// "callsign-work" in top -H and /proc/PID/task. One task per pool thread, each held until all
// have started so that every thread runs one. The hold is bounded: a pool stopped before all of
// them ran (an early return from serve_http) must not leave the started ones waiting in join().
void name_worker_threads(net::thread_pool& workers, unsigned count) {
  struct rendezvous {
    std::mutex mutex;
    std::condition_variable all_started;
    unsigned started = 0;
  };
  auto meeting = std::make_shared<rendezvous>();
  for (unsigned i = 0; i < count; ++i) {
    net::post(workers, [meeting, count] {
      pthread_setname_np(pthread_self(), "callsign-work");
      std::unique_lock lock(meeting->mutex);
      if (++meeting->started == count) meeting->all_started.notify_all();
      meeting->all_started.wait_for(lock, std::chrono::seconds(2), [&] { return meeting->started == count; });
    });
  }
}

// `tls` is set for the HTTPS/WSS listener. Both listeners share the caps and the registry.
net::awaitable<void> accept_loop(server_state& st, tcp::acceptor& acceptor, const tls_context_slot* tls) {
  // Out of descriptors, accept fails every 50 ms: one log line per 10 s says so, with a count.
  std::optional<std::chrono::steady_clock::time_point> last_warned;
  std::uint64_t failures = 0;
  for (;;) {
    // A named local: GCC 12 may destroy temporaries in a co_await expression twice.
    auto home = st.next_io_executor();
    auto [ec, socket] = co_await acceptor.async_accept(home, use_tuple);
    if (ec) {
      if (ec == net::error::operation_aborted || !acceptor.is_open()) {
        co_return;
      }
      ++failures;
      const auto now = std::chrono::steady_clock::now();
      if (!last_warned || now - *last_warned >= std::chrono::seconds(10)) {
        st.app.log.warn("accept failed; new connections wait in the listen backlog",
                        {{"error", ec.message()}, {"failures", failures}});
        last_warned = now;
        failures = 0;
      }
      // Out of descriptors: back off instead of spinning.
      net::steady_timer pause(st.ioc, std::chrono::milliseconds(50));
      co_await pause.async_wait(use_tuple);
      continue;
    }
    if (failures > 0 || last_warned) {  // the first accept after an outage: say it is over
      st.app.log.info("accept works again", {{"failures", failures}});
      last_warned.reset();
      failures = 0;
    }
    if (st.app.draining.load()) {
      refuse_connection(std::move(socket), tls != nullptr, "the server is shutting down");
      continue;
    }
    if (st.connections.size() >= st.app.config.max_connections) {
      refuse_connection(std::move(socket), tls != nullptr, "too many open connections");
      continue;
    }
    // Every response and frame is one write, so Nagle's algorithm only ever delays the second of
    // two in a row (an error frame and its close, a verified notice right after a token) until
    // the peer's delayed ACK: send at once, as nginx's tcp_nodelay does on keep-alive.
    beast::error_code nodelay_ec;
    socket.set_option(tcp::no_delay(true), nodelay_ec);
    beast::error_code peer_ec;
    auto peer = socket.remote_endpoint(peer_ec);
    std::string address = peer_ec ? std::string() : peer.address().to_string();
    auto conn = std::make_shared<connection>(std::move(socket));
    auto added = st.connections.add(conn, address, st.app.config.max_connections_per_ip);
    if (!added) {
      // One address may not take every slot: refused like at the global cap.
      refuse_connection(std::move(conn->socket), tls != nullptr, "too many open connections from this address");
      continue;
    }
    auto id = *added;
    if (tls != nullptr) {
      beast::error_code nb_ec;
      conn->socket.non_blocking(true, nb_ec);  // OpenSSL calls recv/send itself
      conn->tls = tls->current()->new_session(conn->socket.native_handle());
      if (nb_ec || !conn->tls) {
        st.app.log.warn("cannot start a TLS session", {{"error", nb_ec ? nb_ec.message() : "out of memory"}});
        st.connections.remove(id);
        beast::error_code ignored;
        conn->socket.close(ignored);
        continue;
      }
    }
    if (st.app.stats) {
      st.app.stats->connection_opened();
    }
    net::co_spawn(conn->socket.get_executor(), run_session(st, conn), [&st, id](std::exception_ptr e) {
      st.connections.remove(id);
      if (st.app.stats) {
        st.app.stats->connection_closed();
      }
      if (e) {
        st.app.log.error("session ended by an exception");
      }
    });
  }
}

net::awaitable<void> drain_and_stop(server_state& st, std::vector<tcp::acceptor*> acceptors) {
  st.app.draining.store(true);
  // List downloads end now (a SIGHUP's or an admin's reload on the worker pool, the refresh
  // thread's): the old versions keep serving until the exit, and a slow list server holds
  // neither the drain (an admin's reload is a busy connection) nor the worker pool's join for
  // its fetch timeout. A restart fetches again.
  if (st.app.lists != nullptr) st.app.lists->stop_fetches();
  beast::error_code ignored;
  for (auto* acceptor : acceptors) {
    acceptor->close(ignored);
  }
  // Idle connections are cancelled at once; busy ones finish their request and then close;
  // streams send an error and close with 1012 (service restart).
  st.connections.for_each([](const std::shared_ptr<connection>& conn) {
    net::post(conn->socket.get_executor(), [conn] {
      if (conn->idle.load()) {
        beast::error_code cancel_ec;
        conn->socket.cancel(cancel_ec);
      } else if (conn->on_drain) {
        conn->on_drain();
      }
    });
  });
  auto deadline = std::chrono::steady_clock::now() + st.app.config.shutdown_timeout;
  net::steady_timer timer(st.ioc);
  while (st.connections.size() > 0 && std::chrono::steady_clock::now() < deadline) {
    timer.expires_after(std::chrono::milliseconds(20));
    co_await timer.async_wait(use_tuple);
  }
  auto remaining = st.connections.size();
  st.app.log.info("stopped", {{"abandoned_connections", static_cast<std::uint64_t>(remaining)}});
  for (auto* context : st.io_contexts) {
    context->stop();
  }
}

result<void> write_port_file(const std::filesystem::path& path, std::uint16_t port) {
  auto tmp = path;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << port << "\n";
    if (!out.flush()) {
      return make_error(error_kind::unavailable, "cannot write port file " + path.string());
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    return make_error(error_kind::unavailable, "cannot write port file " + path.string() + ": " + ec.message());
  }
  return {};
}
// Binds and listens. Returns 0 or the exit code.
int open_listener(app_context& app, tcp::acceptor& acceptor, const listen_address& where, const char* key) {
  beast::error_code ec;
  auto address = net::ip::make_address(where.host, ec);
  if (ec) {
    app.log.error(std::string(key) + " host must be an IP address", {{"host", where.host}});
    return 2;
  }
  tcp::endpoint endpoint(address, where.port);
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    app.log.error("cannot listen", {{"setting", key}, {"address", where.host}, {"port", unsigned{where.port}},
                                    {"error", ec.message()}});
    return 1;
  }
  auto bound = acceptor.local_endpoint();
  app.log.info("listening", {{"setting", key}, {"address", bound.address().to_string()}, {"port", unsigned{bound.port()}}});
  return 0;
}
}  // namespace

int serve_http(app_context& app, const router& routes) {
  const auto& cfg = app.config;
  unsigned io_threads = cfg.io_threads != 0 ? cfg.io_threads : std::max(1U, std::thread::hardware_concurrency());
  // Each context is run by one thread; the hint still keeps its locks, because the worker pool,
  // the stream hub and the writer post to it from other threads.
  std::vector<std::unique_ptr<net::io_context>> contexts;
  std::vector<net::io_context*> context_list;
  for (unsigned i = 0; i < io_threads; ++i) {
    contexts.push_back(std::make_unique<net::io_context>(1));
    context_list.push_back(contexts.back().get());
  }
  net::io_context& ioc = *contexts.front();
  net::thread_pool workers(cfg.worker_threads);

  std::random_device rd;
  char prefix[16];
  std::snprintf(prefix, sizeof prefix, "%08x-", rd());
  server_state st{app, routes, ioc, workers, {}, prefix, {}, context_list, {}, {}};
  for (std::size_t i = 0; i < context_list.size(); ++i) {
    st.fanouts.push_back(std::make_shared<stream_fanout>());
  }
  stream_hub streams(stream_limits{cfg.stream.max_connections_per_user, cfg.stream.max_connections,
                                   cfg.stream.outbox_messages});
  // GET /v1/admin/stream (docs/admin-console.md): the same caps and outbox bound.
  stream_hub admin_streams(stream_limits{cfg.stream.max_connections_per_user, cfg.stream.max_connections,
                                         cfg.stream.outbox_messages});

  // Signals are caught before the port is announced: a supervisor (or test) that sends
  // SIGTERM as soon as it reads the port file gets a graceful drain, not the default action.
  net::signal_set signals(ioc, SIGINT, SIGTERM);
  // The certificate and key are read before anything binds: a bad pair stops start-up.
  std::unique_ptr<tls_context_slot> tls;
  if (cfg.tls.enabled) {
    auto loaded = tls_context::load(cfg.tls);
    if (!loaded) {
      app.log.error("cannot start the TLS listener", {{"error", loaded.error().message}});
      return 1;
    }
    tls = std::make_unique<tls_context_slot>(std::shared_ptr<const tls_context>(std::move(loaded).value()));
    // OpenSSL writes to the socket with write(2), which raises SIGPIPE when the peer has gone
    // (Asio's own sends pass MSG_NOSIGNAL). The error value is all the session needs.
    std::signal(SIGPIPE, SIG_IGN);
  }

  // SIGHUP reloads every list, the rule file and the TLS certificate and key, on the worker pool,
  // never on an I/O thread. A certificate or key that does not load leaves the current pair serving.
  net::signal_set hangups(ioc, SIGHUP);
  std::function<void(const beast::error_code&, int)> on_hangup = [&](const beast::error_code& hup_ec, int) {
    if (hup_ec) return;
    net::post(workers, [&app] { reload_sources_on_hangup(app); });
    if (tls) {
      net::post(workers, [&app, &cfg, slot = tls.get()] { reload_tls_context(app, cfg.tls, *slot); });
    }
    hangups.async_wait(on_hangup);
  };
  hangups.async_wait(on_hangup);

  tcp::acceptor plain_acceptor(ioc);
  tcp::acceptor tls_acceptor(ioc);
  std::vector<tcp::acceptor*> acceptors;
  const std::uint64_t descriptors = raise_descriptor_limit();
  if (cfg.tls.plaintext || !cfg.tls.enabled) {
    if (auto code = open_listener(app, plain_acceptor, cfg.listen, "server.listen"); code != 0) {
      return code;
    }
    acceptors.push_back(&plain_acceptor);
  }
  if (tls) {
    if (auto code = open_listener(app, tls_acceptor, cfg.tls.listen, "tls.listen"); code != 0) {
      return code;
    }
    acceptors.push_back(&tls_acceptor);
    app.log.info("tls certificate", {{"subject", tls->current()->certificate_subject()},
                                     {"not_after", tls->current()->certificate_not_after()},
                                     {"min_version", cfg.tls.min_version == tls_version::tls1_3 ? "1.3" : "1.2"}});
  }
  // Ports are announced only once every listener is bound, so a supervisor never sees a port of
  // a process that is about to fail.
  const std::pair<tcp::acceptor*, const std::optional<std::filesystem::path>*> announced[] = {
      {&plain_acceptor, &cfg.port_file}, {&tls_acceptor, &cfg.tls.port_file}};
  for (const auto& [acceptor, port_file] : announced) {
    if (acceptor->is_open() && *port_file) {
      if (auto written = write_port_file(**port_file, acceptor->local_endpoint().port()); !written) {
        app.log.error(written.error().message);
        return 1;
      }
    }
  }
  if (descriptors_short(descriptors, cfg.max_connections)) {
    app.log.warn("the descriptor limit is below limits.max_connections plus a reserve; raise LimitNOFILE "
                 "or lower limits.max_connections",
                 {{"descriptor_limit", descriptors},
                  {"max_connections", static_cast<std::uint64_t>(cfg.max_connections)},
                  {"reserve", descriptor_reserve}});
  }
  app.log.info("serving", {{"descriptor_limit", descriptors},
                           {"io_threads", io_threads},
                           {"worker_threads", cfg.worker_threads}});
  notify_systemd_ready();  // bound, and main loaded the lists before calling us

  app.streams = &streams;
  app.admin_streams = &admin_streams;
  if (app.cluster != nullptr) app.cluster->attach_hub(&streams);  // notices from other nodes
  for (auto* acceptor : acceptors) {
    const tls_context_slot* context = acceptor == &tls_acceptor ? tls.get() : nullptr;
    net::co_spawn(ioc, accept_loop(st, *acceptor, context), net::detached);
  }
  net::co_spawn(ioc, run_token_timer(st), net::detached);
  if (app.live != nullptr) net::co_spawn(ioc, run_admin_tick_timer(st), net::detached);
  signals.async_wait([&](const beast::error_code& sig_ec, int signo) {
    if (sig_ec) {
      return;
    }
    app.log.info("shutting down", {{"signal", signo}});
    notify_systemd_stopping();
    net::co_spawn(ioc, drain_and_stop(st, acceptors), net::detached);
  });

  name_worker_threads(workers, cfg.worker_threads);  // past every early return: no 2 s hold there
  // The other contexts have no work until connections arrive: keep them running until the drain
  // stops every context.
  std::vector<net::executor_work_guard<net::io_context::executor_type>> keep_running;
  std::vector<std::thread> threads;
  for (unsigned i = 1; i < io_threads; ++i) {
    keep_running.push_back(net::make_work_guard(*contexts[i]));
    threads.emplace_back([context = contexts[i].get(), i] {
      // "callsign-io1", ...: tells the I/O threads apart in top -H, perf and /proc/PID/task (the
      // main thread, which runs the first context, keeps the process name).
      char name[16];
      std::snprintf(name, sizeof name, "callsign-io%u", i);
      pthread_setname_np(pthread_self(), name);
      context->run();
    });
  }
  ioc.run();
  for (auto& t : threads) {
    t.join();
  }
  workers.join();
  // A commit still queued when the drain gave up on its connection completes by posting to its
  // I/O context. Let the (first-in, first-out) writer get past everything submitted so far
  // before the contexts are destroyed with this frame, so no completion reaches a freed one.
  if (app.writer != nullptr) {
    auto passed = std::make_shared<std::promise<void>>();
    auto barrier = passed->get_future();
    app.writer->submit(storage::change_set{}, [passed](const result<storage::commit_receipt>&) { passed->set_value(); });
    barrier.wait();
  }
  if (app.cluster != nullptr) app.cluster->attach_hub(nullptr);
  app.streams = nullptr;
  app.admin_streams = nullptr;
  return 0;
}

}  // namespace callsign::server
