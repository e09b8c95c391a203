// One real callsignd application for the route fuzz target: config, key ring, dev HS256 key,
// RocksDB and the group-commit writer in a fresh temp dir, every route group registered, and
// bearer tokens minted with the server's own minting code. Built once per process; the
// destructor (at exit) stops the writer, closes the database and deletes the directory.
#pragma once

#include <simdjson.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "fuzz/fuzz_check.hpp"
#include "server/app_context.hpp"
#include "server/auth/token_minting.hpp"
#include "server/auth/token_verifier.hpp"
#include "server/auth/verification_keys.hpp"
#include "server/lists/list_registry.hpp"
#include "server/login/login_limits.hpp"
#include "server/routes/routes.hpp"
#include "server/rules/rule_registry.hpp"
#include "storage/audit_journal.hpp"
#include "storage/authenticator_store.hpp"
#include "storage/database.hpp"
#include "storage/embedded_attempts.hpp"
#include "storage/embedded_authenticator_directory.hpp"
#include "storage/block_directory.hpp"
#include "storage/embedded_blocks.hpp"
#include "storage/embedded_login_counts.hpp"
#include "storage/embedded_rate_counters.hpp"
#include "storage/embedded_replay_marks.hpp"
#include "storage/embedded_user_directory.hpp"
#include "storage/group_commit_writer.hpp"
#include "storage/key_ring_file.hpp"
#include "storage/user_store.hpp"

namespace callsign::fuzz {

inline constexpr std::int64_t world_time = 1'700'000'000;


inline std::filesystem::path make_temp_dir() {
  const char* base = std::getenv("TMPDIR");
  std::string pattern = std::string(base != nullptr ? base : "/tmp") + "/callsign-fuzz-routes-XXXXXX";
  FUZZ_CHECK(mkdtemp(pattern.data()) != nullptr);
  return pattern;
}

template <class T>
T must(result<T> outcome) {
  if (!outcome) std::fprintf(stderr, "route_world: %s\n", outcome.error().message.c_str());
  FUZZ_CHECK(outcome.has_value());
  return std::move(outcome).value();
}

struct route_world {
  std::filesystem::path dir = make_temp_dir();
  std::FILE* log_file = std::fopen("/dev/null", "w");
  server::json_log log{log_file, server::log_level::error};
  storage::manual_clock clock{std::chrono::system_clock::time_point(std::chrono::seconds(world_time))};
  server::server_config config = make_config(dir);
  std::optional<server::token_verifier> verifier;
  std::unique_ptr<storage::database> db;
  std::unique_ptr<storage::group_commit_writer> writer;
  std::unique_ptr<storage::user_store> users;
  std::unique_ptr<storage::authenticator_store> authenticators;
  std::unique_ptr<storage::embedded_replay_marks> marks;
  std::unique_ptr<storage::embedded_rate_counters> counters;
  std::unique_ptr<storage::audit_journal> journal;
  std::unique_ptr<storage::embedded_blocks> blocks;
  std::unique_ptr<storage::embedded_block_directory> block_admin;
  std::unique_ptr<storage::embedded_code_attempts> code_attempts;
  std::unique_ptr<storage::embedded_login_attempts> login_attempts;
  std::unique_ptr<storage::embedded_login_counts> login_counts;
  std::unique_ptr<storage::embedded_user_directory> user_directory;
  std::unique_ptr<storage::embedded_authenticator_directory> authenticator_directory;
  std::unique_ptr<server::app_context> app;
  std::unique_ptr<server::login_limiter> login;
  std::unique_ptr<server::list_registry> lists;
  std::unique_ptr<server::rule_registry> rules;  // no rule file: no rules until a PUT
  server::router routes;
  std::string signing_key;

  static server::server_config make_config(const std::filesystem::path& dir) {
    server::server_config c;
    c.data_dir = dir;
    c.dev_mode = true;  // POST /v1/dev/token is served
    c.web_root = CALLSIGN_SOURCE_DIR "/web";
    // Throttling would soon turn every verify into 429 at this fixed clock; keep the deep path reachable.
    c.verify.user_failures = c.verify.agent_failures = c.verify.ip_failures = 1'000'000'000;
    return c;
  }

  route_world() {
    FUZZ_CHECK(log_file != nullptr);
    auto ring = must(storage::load_or_create_key_ring(dir / storage::key_ring_file_name));
    verifier.emplace(must(server::token_verifier::load(config.auth, dir, true)));
    db = must(storage::database::open({dir / "db", true}));
    writer = must(storage::group_commit_writer::start(*db, ring, clock, storage::group_commit_options{}));
    users = std::make_unique<storage::user_store>(*db);
    authenticators = std::make_unique<storage::authenticator_store>(*db);
    marks = std::make_unique<storage::embedded_replay_marks>(*db);
    counters = std::make_unique<storage::embedded_rate_counters>(*db);
    journal = std::make_unique<storage::audit_journal>(*db);
    app = std::make_unique<server::app_context>(config, log, clock, *db, std::move(ring));
    app->writer = writer.get();
    app->verifier = &*verifier;
    app->journal = journal.get();
    blocks = must(storage::embedded_blocks::open(*db, world_time * 1000));
    app->blocks = blocks.get();
    block_admin = std::make_unique<storage::embedded_block_directory>(*blocks);
    app->block_admin = block_admin.get();
    // No blocking pool: a cold read waits on the fuzzing thread.
    code_attempts = std::make_unique<storage::embedded_code_attempts>(*marks, *counters);
    login_attempts = std::make_unique<storage::embedded_login_attempts>(*counters, *blocks);
    app->attempts = code_attempts.get();
    app->login_attempts = login_attempts.get();
    login_counts = std::make_unique<storage::embedded_login_counts>(*counters);
    app->login_counts = login_counts.get();
    const storage::blocking_executor here = [](std::function<void()> work) { work(); };
    user_directory = std::make_unique<storage::embedded_user_directory>(*db, *writer, here);
    authenticator_directory =
        std::make_unique<storage::embedded_authenticator_directory>(*db, *writer, here, *user_directory);
    app->user_directory = user_directory.get();
    app->authenticator_directory = authenticator_directory.get();
    login = std::make_unique<server::login_limiter>(config.login, app->keys, *counters, *blocks);
    app->login = login.get();
    lists = std::make_unique<server::list_registry>(config.lists, dir, app->keys, clock);
    lists->load_all();  // no list files: every list starts empty
    app->lists = lists.get();
    rules = std::make_unique<server::rule_registry>(config.rules, config.login, dir, clock);
    app->rules = rules.get();
    lists->set_before_swap([r = rules.get()](const server::list_snapshot& next) { r->bind(next); });
    routes = server::build_router(*app);
    app->stats = std::make_unique<server::metrics>(routes.route_labels());
    signing_key = must(server::load_hs256_signing_key(config.auth, dir));
  }
  route_world(const route_world&) = delete;
  route_world& operator=(const route_world&) = delete;
  ~route_world() {
    writer->stop();
    rules.reset();
    lists.reset();
    login.reset();
    app.reset();
    writer.reset();
    db.reset();
    std::fclose(log_file);
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
  }

  std::string token(server::role r, std::string_view subject, std::int64_t issued_at = world_time,
                    std::int64_t ttl = 3600) const {
    const std::span<const std::uint8_t> key(reinterpret_cast<const std::uint8_t*>(signing_key.data()),
                                            signing_key.size());
    return must(server::mint_hs256_token(key, config.auth.issuer, config.auth.audience, r, subject, issued_at, ttl));
  }
};

}  // namespace callsign::fuzz
