// The login rules in force (docs/rules.md): one compiled rule set per version, read from the rule
// file at start, replaced by PUT /v1/admin/rules (validated, written atomically, then swapped),
// reloaded from the file like the lists. A rule set that does not compile never replaces the
// one serving. `$open_proxies` is bound at compile time. When that list is reloaded, the list
// registry hands the new list to bind() just before it serves it, on the reloading thread, so
// the same text is compiled against it there: a login check never compiles and never waits.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "crypto/result.hpp"
#include "rules/rule_set.hpp"
#include "server/lists/list_snapshot.hpp"
#include "server/login/login_config.hpp"
#include "server/login/login_limits.hpp"
#include "server/rules/rules_config.hpp"
#include "storage/clock.hpp"

namespace callsign::server {

// Hits of one version's rules, by index into rule_set::rules(). Carried by rule id into the next
// version, so a replace that keeps a rule keeps its counts.
struct rule_hit_counters {
  explicit rule_hit_counters(std::size_t rules) : hits(rules), shadow_hits(rules) {}
  std::vector<std::atomic<std::uint64_t>> hits;         // matched and acted (decided or logged)
  std::vector<std::atomic<std::uint64_t>> shadow_hits;  // matched in shadow mode
};

// Thread-safety: immutable once published (the counters are atomics).
struct installed_rules {
  std::shared_ptr<const rules::rule_set> set;
  std::shared_ptr<rule_hit_counters> counters;
  std::string text;
  std::string sha256;            // of text
  std::uint64_t version = 0;     // 0: nothing installed yet (no file): no rules
  std::int64_t loaded_at_ms = 0;
  std::shared_ptr<const storage::ip_set> open_proxies;  // the list $open_proxies is bound to
  // The rate-limit rules in force: the file's [[rate_limit]] tables, or without any, [login]'s.
  std::vector<login_rule> rate_rules;
  bool rate_rules_from_file = false;

  login_rate_rules rate_rules_view() const noexcept {
    return {&rate_rules, rate_rules_from_file ? set.get() : nullptr};
  }
};

struct rules_change {
  bool changed = false;  // false when the text is the one serving
  std::shared_ptr<const installed_rules> before;
  std::shared_ptr<const installed_rules> after;
};

// A compile refusal (4xx with rule, line, column), or a failure to read or write the file.
using rules_outcome = std::variant<rules_change, rules::rule_error, error>;

// Thread-safety: every member may be called concurrently.
class rule_registry {
 public:
  // `login`: its rules serve when the file has no [[rate_limit]]; when [[login.rules]] is written
  // in the config (login.rules_given), a file with [[rate_limit]] tables is refused, so the
  // limits live in one place.
  // `limiter`, when given, has its key-rotation horizon extended to cover every version's
  // rate-limit rules before that version serves (login_limiter::cover_username_rules).
  rule_registry(const rules_config& config, const login_config& login, const std::filesystem::path& data_dir,
                const storage::clock& clock, login_limiter* limiter = nullptr);

  // At start, before any list reload runs: binds to `lists`, then reads the file. A configured
  // file must exist; <data_dir>/rules.toml may be missing (no rules). A file that does not
  // compile is an error naming rule, line and column: callsignd does not start.
  result<void> load(const list_snapshot& lists);

  // The list registry's swap hook (list_registry::set_before_swap): `next` is about to serve.
  // Compiles the serving version's text against next.open_proxies and publishes that binding
  // beside the one bound to the list before it, so requests still holding the older snapshot
  // keep the binding of their own list. Off the I/O threads; may wait for a replace.
  void bind(const list_snapshot& next) noexcept;

  // The rules to evaluate against `lists` (the caller's snapshot): the serving version's binding
  // to lists.open_proxies, which bind() prepared before that list served. Never compiles and
  // never waits for a replace: a list bind() was not given (only a test does that) gets the
  // newest binding. Keeps the previous list's set in memory until the next reload of that list.
  std::shared_ptr<const installed_rules> current(const list_snapshot& lists) const;
  // The newest binding as published (status pages, metrics).
  std::shared_ptr<const installed_rules> published() const;

  // Compiles `text` against the lists bind() was given (the newest and the one before it);
  // when it compiles, writes the file atomically and swaps it in.
  rules_outcome replace(std::string_view text);
  // Reads the file again (POST /v1/admin/rules/reload, SIGHUP, a cluster reload).
  rules_outcome reload();
  // The file's text as reload() would read it, without installing (several nodes: the text is
  // shared through Redis before it is installed, docs/cluster.md "Rules").
  result<std::string> read_file() const;
  // Compiles without installing (POST /v1/admin/rules/test).
  std::variant<std::shared_ptr<const rules::rule_set>, rules::rule_error> compile(std::string_view text,
                                                                                   const list_snapshot& lists) const;

  const std::filesystem::path& path() const noexcept { return path_; }
  // [rules] file was written in the config (otherwise the path is the default, which may be missing).
  bool file_configured() const noexcept { return path_configured_; }
  const rules_config& config() const noexcept { return config_; }

  // One evaluation's hits, counted against the version that made the decision.
  static void count(const installed_rules& rules, const rules::decision& d) noexcept;
  // callsign_rule_hits_total{rule,mode} and the version's gauge.
  std::string prometheus_text() const;
  // The serving version's counts as the console's series: ("rule_hits.<id>", hits) and
  // ("rule_shadow_hits.<id>", shadow hits), appended to `out` (live_series::add_dynamic).
  void append_hit_series(std::vector<std::pair<std::string, std::uint64_t>>& out) const;

 private:
  std::variant<std::shared_ptr<installed_rules>, rules::rule_error> build(
      std::string_view text, const std::shared_ptr<const storage::ip_set>& open_proxies) const;
  // A new version from `text`: bound to newest_list_ and, when there is one, previous_list_.
  // Caller holds install_mutex_.
  rules_outcome install(std::string_view text, bool write_file);
  // `newest` (and `previous`, the same version bound to the list before, or null) serve from now.
  void publish(std::shared_ptr<const installed_rules> newest, std::shared_ptr<const installed_rules> previous);

  rules_config config_;
  std::filesystem::path path_;
  bool path_configured_ = false;
  const storage::clock& clock_;
  const login_config& login_;
  login_limiter* limiter_ = nullptr;  // thread-safe (its horizon is an atomic)
  std::mutex install_mutex_;  // one load/replace/reload/bind at a time; versions in order
  // The open_proxies sets bind() was given, newest first (guarded by install_mutex_).
  std::shared_ptr<const storage::ip_set> newest_list_, previous_list_;
  std::uint64_t next_version_ = 1;  // guarded by install_mutex_
  // Guards current_ and previous_ (a copy and the swap only). Not std::atomic<std::shared_ptr>:
  // ThreadSanitizer reports libstdc++ 12's implementation (rule_registry_race_test, ./tools/tsan).
  mutable std::mutex current_mutex_;
  std::shared_ptr<const installed_rules> current_;   // bound to newest_list_
  std::shared_ptr<const installed_rules> previous_;  // the same version bound to previous_list_, or null
};

// The list resolver rule files compile against: `open_proxies` (empty when not loaded).
rules::list_resolver managed_list_resolver(const list_snapshot& lists);

}  // namespace callsign::server
