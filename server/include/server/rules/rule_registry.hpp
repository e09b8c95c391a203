// The login rules in force (docs/rules.md): one compiled rule set per version, read from the rule
// file at start, replaced by PUT /v1/admin/rules (validated, written atomically, then swapped),
// reloaded from the file like the lists. A rule set that does not compile never replaces the
// one serving. `$open_proxies` is bound at compile time; when that list is reloaded the same text
// is compiled again against the new list before the next evaluation.
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

  // At start. A configured file must exist; <data_dir>/rules.toml may be missing (no rules). A
  // file that does not compile is an error naming rule, line and column: callsignd does not start.
  result<void> load(const list_snapshot& lists);

  // The rules to evaluate against `lists` (the caller's snapshot): recompiled first when
  // lists.open_proxies is not the set the current version is bound to.
  std::shared_ptr<const installed_rules> current(const list_snapshot& lists) const;
  // As published, without a re-bind (status pages, metrics).
  std::shared_ptr<const installed_rules> published() const;

  // Compiles `text`; when it compiles, writes the file atomically and swaps it in.
  rules_outcome replace(std::string_view text, const list_snapshot& lists);
  // Reads the file again (POST /v1/admin/rules/reload, SIGHUP, a cluster reload).
  rules_outcome reload(const list_snapshot& lists);
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
  std::variant<std::shared_ptr<installed_rules>, rules::rule_error> build(std::string_view text,
                                                                         const list_snapshot& lists) const;
  void publish(std::shared_ptr<installed_rules> next, const installed_rules* carry_from) const;

  rules_config config_;
  std::filesystem::path path_;
  bool path_configured_ = false;
  const storage::clock& clock_;
  const login_config& login_;
  login_limiter* limiter_ = nullptr;  // thread-safe (its horizon is an atomic)
  mutable std::mutex install_mutex_;  // one replace/reload/re-bind at a time; versions in order
  // Guards current_ (a copy and the swap only). Not std::atomic<std::shared_ptr>: ThreadSanitizer
  // reports libstdc++ 12's implementation (rule_registry_race_test under ./tools/tsan).
  mutable std::mutex current_mutex_;
  mutable std::shared_ptr<const installed_rules> current_;
  mutable std::uint64_t next_version_ = 1;
};

// The list resolver rule files compile against: `open_proxies` (empty when not loaded).
rules::list_resolver managed_list_resolver(const list_snapshot& lists);

}  // namespace callsign::server
