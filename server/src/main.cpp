// callsignd: support-call authentication and account-takeover signals.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <utility>
#include <string_view>
#include <vector>

#include "server/app_context.hpp"
#include "server/auth/token_verifier.hpp"
#include "server/cluster/audit_view.hpp"
#include "server/cluster/cluster_lists.hpp"
#include "server/cluster/cluster_rules.hpp"
#include "server/cluster/shared_state_node.hpp"
#include "server/config/config.hpp"
#include "server/config/credentials.hpp"
#include "server/control/control_commands.hpp"
#include "server/http/problem.hpp"
#include "server/lists/list_refresher.hpp"
#include "server/lists/list_registry.hpp"
#include "server/net/http_server.hpp"
#include "server/observability/console_series.hpp"
#include "server/routes/routes.hpp"
#include "server/rules/rule_registry.hpp"
#include "server/timing/state_sweeper.hpp"
#include "server/control/audit_pruning.hpp"
#include "storage/audit_journal.hpp"
#include "storage/authenticator_store.hpp"
#include "storage/block_directory.hpp"
#include "storage/blocking_pool.hpp"
#include "storage/database.hpp"
#include "storage/embedded_attempts.hpp"
#include "storage/embedded_authenticator_directory.hpp"
#include "storage/embedded_blocks.hpp"
#include "storage/embedded_login_counts.hpp"
#include "storage/embedded_rate_counters.hpp"
#include "storage/embedded_replay_marks.hpp"
#include "storage/embedded_user_directory.hpp"
#include "storage/group_commit_writer.hpp"
#include "storage/key_ring_file.hpp"
#include "storage/user_store.hpp"

using namespace callsign;

namespace {

// What fill_in_background logs: on success `done` with `count_field` and the time taken, on
// failure `failed` with the error.
// A private directory under $TMPDIR (or /tmp), removed with everything in it.
class scratch_data_dir {
 public:
  static result<scratch_data_dir> make() {
    std::string pattern = (std::filesystem::temp_directory_path() / "callsignd-routes-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      return make_error(error_kind::unavailable, "cannot create a scratch directory in " +
                                                     std::filesystem::temp_directory_path().string());
    }
    return scratch_data_dir(pattern);
  }
  scratch_data_dir(scratch_data_dir&& other) noexcept : path_(std::exchange(other.path_, {})) {}
  scratch_data_dir& operator=(scratch_data_dir&&) = delete;
  ~scratch_data_dir() {
    std::error_code ignored;
    if (!path_.empty()) std::filesystem::remove_all(path_, ignored);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  explicit scratch_data_dir(std::filesystem::path path) : path_(std::move(path)) {}
  std::filesystem::path path_;
};

struct fill_messages {
  std::string_view done;
  std::string_view count_field;
  std::string_view failed;
};

// Runs `fill` (memory filled from RocksDB at start; it answers how many entries it added) on the
// disk pool, as background work that no request waits for, and logs the outcome.
template <class Fill>
void fill_in_background(storage::blocking_pool& pool, server::json_log& log, fill_messages messages, Fill fill) {
  pool.post_background([&log, messages, fill = std::move(fill)] {
    const auto began = std::chrono::steady_clock::now();
    auto filled = fill();
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - began);
    if (!filled) {
      log.warn(messages.failed, {{"error", filled.error().message}});
      return;
    }
    log.info(messages.done, {{messages.count_field, static_cast<std::uint64_t>(*filled)},
                             {"ms", static_cast<std::uint64_t>(ms.count())}});
  });
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string_view> args(argv + 1, argv + argc);
  auto cli = server::parse_command_line(args);
  if (!cli) {
    std::fprintf(stderr, "callsignd: %s\n%s", cli.error().message.c_str(), server::command_line_usage().data());
    return 2;
  }
  if (cli->help) {
    std::fputs(server::command_line_usage().data(), stdout);
    return 0;
  }

  auto cfg = server::resolve_config(*cli);
  if (!cfg) {
    std::fprintf(stderr, "callsignd: %s\n", cfg.error().message.c_str());
    return 2;
  }

  // --list-routes builds the router over a scratch data directory, removed on exit, so listing
  // the routes creates no key, database or Redis connection where the config points.
  std::optional<scratch_data_dir> scratch;
  if (cli->list_routes) {
    auto made = scratch_data_dir::make();
    if (!made) {
      std::fprintf(stderr, "callsignd: %s\n", made.error().message.c_str());
      return 1;
    }
    scratch.emplace(std::move(*made));
    cfg->data_dir = scratch->path();
    cfg->auth = decltype(cfg->auth){};
    cfg->shared_state.backend = server::shared_state_backend::embedded;
  }

  server::json_log log(stdout, cfg->log_min_level);
  // A master.key credential (systemd LoadCredential=) is only read; the data dir's is created.
  auto key_file =
      server::locate_master_key(*cfg, cli->list_routes ? nullptr : std::getenv("CREDENTIALS_DIRECTORY"));
  if (!key_file) {
    log.error("cannot load master key ring", {{"error", key_file.error().message}});
    return 1;
  }
  auto keys = key_file->from_credentials ? storage::load_key_ring(key_file->path)
                                         : storage::load_or_create_key_ring(key_file->path);
  if (!keys) {
    log.error("cannot load master key ring", {{"error", keys.error().message}});
    return 1;
  }
  auto verifier = server::token_verifier::load(cfg->auth, cfg->data_dir, cfg->dev_mode);
  if (!verifier) {
    log.error("cannot set up token verification", {{"error", verifier.error().message}});
    return 1;
  }
  storage::system_clock_source clock;  // declared before the database: its compaction filter reads it
  auto db = storage::database::open({cfg->data_dir / "db", true, &clock});
  if (!db) {
    log.error("cannot open database", {{"error", db.error().message}});
    return 1;
  }
  const bool shared_mode = cfg->shared_state.backend == server::shared_state_backend::redis;
  storage::group_commit_options commit_options;
  // Several nodes: every journal entry names its node (docs/audit.md, "Several nodes").
  if (shared_mode) commit_options.node_id = cfg->shared_state.node_id;
  commit_options.checkpoint_every = static_cast<std::uint64_t>(cfg->audit.checkpoint_every);
  commit_options.checkpoint_interval_seconds = cfg->audit.checkpoint_interval_seconds;
  // RocksDB's text (file paths) goes to the log only; clients get a generic 503 (problem.cpp).
  commit_options.report_health = [&log](const storage::write_health_report& report) {
    if (report.failing) {
      log.error("storage writes are failing", {{"error", report.cause}, {"failed_groups", report.failures}});
    } else {
      log.info("storage writes work again", {{"failed_groups", report.failures}});
    }
  };
  // Several nodes: each durable entry about a user is copied to that user's Redis stream, so every
  // node's GET /v1/me/audit shows all nodes' entries (docs/audit.md, "Several nodes").
  server::audit_view cluster_audit(cfg->shared_state.node_id, &clock, cfg->audit.retention_seconds);
  if (shared_mode) {
    commit_options.on_durable = [&cluster_audit](std::vector<storage::durable_audit_entry> entries) {
      cluster_audit.publish(std::move(entries));
    };
  }
  auto writer = storage::group_commit_writer::start(**db, *keys, clock, commit_options);
  if (!writer) {
    log.error("cannot start the audit writer", {{"error", writer.error().message}});
    return 1;
  }
  storage::embedded_replay_marks marks(**db);
  storage::embedded_rate_counters counters(**db);
  storage::audit_journal journal(**db);
  const auto start_ms = clock.unix_ms();
  counters.started_at(start_ms);  // a miss reads the disk only while older counts can matter
  auto blocks = storage::embedded_blocks::open(**db, start_ms);
  if (!blocks) {
    log.error("cannot load blocks", {{"error", blocks.error().message}});
    return 1;
  }

  server::app_context app(*cfg, log, clock, **db, std::move(keys).value());
  app.writer = writer->get();
  app.verifier = &*verifier;
  app.journal = &journal;
  app.blocks = blocks->get();
  // Cold reads of the embedded backends (a key only on disk since a restart) wait here, never on
  // an I/O thread (storage/blocking_pool.hpp).
  storage::blocking_pool disk_pool(2, "callsign-disk");
  app.disk_pool = &disk_pool;
  storage::embedded_code_attempts code_attempts(marks, counters, disk_pool.executor());
  storage::embedded_login_attempts login_attempts(counters, **blocks, disk_pool.executor());
  storage::embedded_user_directory user_directory(**db, **writer, disk_pool.executor(), cfg->user_cache_entries);
  storage::embedded_authenticator_directory authenticator_directory(**db, **writer, disk_pool.executor(),
                                                                    user_directory);
  storage::embedded_block_directory block_admin(**blocks);
  storage::embedded_login_counts login_counts(counters);
  app.attempts = &code_attempts;
  app.login_attempts = &login_attempts;
  app.user_directory = &user_directory;
  app.authenticator_directory = &authenticator_directory;
  app.block_admin = &block_admin;
  app.login_counts = &login_counts;
  // Several nodes (docs/cluster.md): the same interfaces on Redis/Valkey instead.
  std::unique_ptr<server::shared_state_node> shared;
  if (shared_mode) {
    auto started = server::shared_state_node::start(*cfg, app.keys, **writer, journal, clock, log);
    if (!started) {
      log.error("cannot start shared state", {{"error", started.error().message}});
      disk_pool.stop();
      (*writer)->stop();
      return 1;
    }
    shared = std::move(*started);
    app.attempts = &shared->code_attempts();
    app.login_attempts = &shared->login_attempts();
    app.user_directory = &shared->users();
    app.authenticator_directory = &shared->authenticators();
    app.block_admin = &shared->block_admin();
    app.login_counts = &shared->login_counts();
    app.blocks = &shared->login_blocks();
    app.cluster = &shared->link();
    cluster_audit.attach(shared->client());
    app.cluster_audit = &cluster_audit;
    app.shared_state_unready = [&shared] { return shared->unready_reason(); };
    app.shared_state_metrics = [&shared] { return shared->metrics_text(); };
    server::set_unavailable_retry_after(cfg->shared_state.retry_after.count());
  }
  server::login_limiter login(app.config.login, app.keys, counters, *app.blocks);
  app.login = &login;
  // The admin console's per-second series, ticked by serve_http once a second (docs/admin-console.md).
  server::live_series live;
  server::add_console_series(live, &login.metrics(), app.verify_counts);
  app.live = &live;

  // The list registry exists before the routes that read it; its files load after start-up checks.
  // URL sources are fetched with callsign_net's Beast client (docs/lists.md, "URL sources").
  const auto list_downloads = server::make_list_downloader();
  server::list_registry lists(cfg->lists, cfg->data_dir, app.keys, clock, list_downloads.get());
  app.lists = &lists;
  // The login rules (docs/rules.md): compiled against the lists once they are loaded, below.
  // It extends the limiter's key-rotation horizon to each installed file's username limits.
  server::rule_registry rules(cfg->rules, app.config.login, cfg->data_dir, clock, &login);
  app.rules = &rules;
  // Every reload of $open_proxies binds the rules to it before it serves, on the reloading thread.
  lists.set_before_swap([&rules](const server::list_snapshot& next) { rules.bind(next); });
  // The console's per-rule series (docs/admin-console.md), read from the version serving.
  live.add_dynamic([&rules](std::vector<std::pair<std::string, std::uint64_t>>& out) { rules.append_hit_series(out); });
  auto routes = server::build_router(app);
  if (cli->list_routes) {
    for (std::size_t i = 1; i < routes.route_labels().size(); ++i) {
      std::printf("%s\n", routes.route_labels()[i].c_str());
    }
    (*writer)->stop();
    return 0;
  }
  std::string algorithms;
  for (auto name : verifier->algorithms()) {
    if (!algorithms.empty()) {
      algorithms += ',';
    }
    algorithms += name;
  }
  log.info("starting", {{"data_dir", cfg->data_dir.string()},
                        {"key_version", static_cast<std::uint64_t>(app.keys.current().version)},
                        {"token_algorithms", algorithms},
                        {"dev_mode", cfg->dev_mode},
                        {"master_key", key_file->from_credentials ? "credential" : "data_dir"}});

  // Lists: a missing or bad file leaves that list empty with last_error set (docs/lists.md).
  lists.load_all();
  for (const auto& status : lists.statuses()) {
    log.info("list loaded", {{"list", server::list_name(status.id)},
                             {"version", status.version},
                             {"entries", status.entries},
                             {"error", status.last_error}});
  }
  // A rule file that does not compile stops the start: there is no older version to keep serving.
  if (auto loaded = rules.load(*lists.snapshot()); !loaded) {
    log.error("cannot load the rule file", {{"error", loaded.error().message}});
    disk_pool.stop();
    if (shared) shared->stop();
    cluster_audit.detach();
    (*writer)->stop();
    return 1;
  }
  if (const auto installed = rules.published(); installed->version != 0) {
    log.info("rules loaded", {{"version", installed->version},
                              {"sha256", installed->sha256},
                              {"rules", static_cast<std::uint64_t>(installed->set->rules().size())}});
  }
  // The gate's open-proxy check reads the same snapshot as POST /v1/login/check.
  app.open_proxies = [&lists](const server::ip_address& address) {
    const auto snapshot = lists.snapshot();
    if (!snapshot->open_proxies || snapshot->open_proxies->entries() == 0) {
      return server::open_proxy_answer::no_list_loaded;
    }
    return snapshot->is_open_proxy(server::to_storage_address(address)) ? server::open_proxy_answer::listed
                                                                        : server::open_proxy_answer::not_listed;
  };
  if (app.config.login.gate_block_open_proxies && lists.status(server::list_id::open_proxies).entries == 0) {
    log.warn(
        "login.gate_block_open_proxies is set but no open_proxies list is loaded; the gate refuses none "
        "until one is");
  }
  std::optional<server::list_refresher> refresher;
  refresher.emplace(lists, log, app.writer, app.clock, std::chrono::seconds(1));
  // Several nodes: a reload reaches every node; each node's list statuses are kept in Redis.
  std::unique_ptr<server::cluster_lists> cluster_lists;
  if (shared) {
    cluster_lists =
        std::make_unique<server::cluster_lists>(lists, shared->link(), shared->client(), log, app.writer, app.clock);
  }
  // Several nodes: the rule file is shared through Redis; a node behind adopts the cluster's now.
  std::unique_ptr<server::cluster_rules> cluster_rules;
  if (shared) {
    cluster_rules = std::make_unique<server::cluster_rules>(rules, lists, shared->link(), shared->client(), log,
                                                            app.writer, app.clock);
  }

  app.stats = std::make_unique<server::metrics>(routes.route_labels());
  auto control = server::start_control_socket(app);  // `callsign backup` while running
  if (!shared_mode) {
    // The user cache filled in the background: a restarted node's first verify of each user is
    // then as cheap as its later ones (storage/embedded_user_directory.hpp, docs/operations.md).
    fill_in_background(disk_pool, log,
                       {"user cache warmed", "users", "user cache not warmed; users are read from disk as asked for"},
                       [&user_directory] { return user_directory.warm_cache(); });
    // Every live failure count read into memory in the background: from then on a key never
    // counted (a user's first failed verify) costs no disk read (storage/embedded_rate_counters.hpp).
    fill_in_background(
        disk_pool, log,
        {"failure counts preloaded", "counters",
         "failure counts not preloaded; each is read from disk when first asked for"},
        [&counters, &clock] { return counters.load_live(clock.unix_ms()); });
  }
  // Expired failure counts and blocks leave memory within a minute, also in the stripes no
  // request touches again after an attack of fresh keys (docs/shared-state.md, "Memory").
  std::optional<server::state_sweeper> sweeper;
  if (!shared_mode) {
    sweeper.emplace(clock, std::chrono::seconds(60),
                    std::vector<server::state_sweeper::sweep>{
                        [&counters](std::int64_t now_ms) { return counters.sweep(now_ms); },
                        [embedded = blocks->get()](std::int64_t now_ms) { return embedded->sweep(now_ms); }});
  }
  // [audit] retention_seconds: the journal's oldest entries are pruned on a timer, through the
  // writer like `callsign audit prune` (docs/audit.md, "Retention").
  std::optional<server::state_sweeper> retention;
  std::atomic<bool> retention_stopping{false};  // ends a long prune between two stretches
  if (app.config.audit.retention_seconds > 0) {
    retention.emplace(clock, server::retention_interval(app.config.audit.retention_seconds),
                      std::vector<server::state_sweeper::sweep>{[&app, &retention_stopping](std::int64_t now_ms) {
                        const auto cutoff = now_ms / 1000 - app.config.audit.retention_seconds;
                        auto pruned = server::prune_audit(app, cutoff, {"system", std::string(server::retention_actor_id)},
                                                          [&retention_stopping] { return retention_stopping.load(); });
                        return pruned ? static_cast<std::size_t>(pruned->removed) : std::size_t{0};
                      }});
  }
  int code = server::serve_http(app, routes);
  retention_stopping.store(true);
  retention.reset();  // a stretch in progress finishes first: the prune commits through the writer
  // The threads that reload lists and rules journal what they install: they end while the writer
  // and the Redis client still run, so nothing is installed without its audit entry.
  cluster_rules.reset();
  cluster_lists.reset();
  refresher.reset();
  // Storage calls still queued for the disk finish now, while the stores they read are alive
  // (the pool is declared before them, so its destructor would run after theirs).
  disk_pool.stop();
  if (shared) shared->stop();  // after serving: no request waits on Redis any more
  cluster_audit.detach();      // before the client goes (sends to the stopped client are dropped)
  control.reset();
  (*writer)->stop();
  return code;
}
