#include "server/rules/rule_registry.hpp"

#include <fstream>
#include <system_error>

#include "crypto/hex.hpp"
#include "crypto/sha256.hpp"
#include "storage/private_file.hpp"

namespace callsign::server {

namespace {

std::string sha256_text(std::string_view text) {
  const auto digest = crypto::sha256(text);
  return crypto::hex_encode(digest);
}

// The file's bytes; not_found when it does not exist. Messages name the path, never content.
result<std::string> read_rule_file(const std::filesystem::path& path, std::size_t max_bytes) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    return make_error(error_kind::not_found, "rule file " + path.string() + " does not exist");
  }
  if (!std::filesystem::is_regular_file(path, ec)) {
    return make_error(error_kind::invalid_input, "rule file " + path.string() + " is not a regular file");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(error_kind::unavailable, "cannot read rule file " + path.string());
  std::string text;
  text.resize(max_bytes + 1);
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  if (in.bad()) return make_error(error_kind::unavailable, "cannot read rule file " + path.string());
  text.resize(static_cast<std::size_t>(in.gcount()));
  if (text.size() > max_bytes) {
    return make_error(error_kind::invalid_input,
                      "rule file " + path.string() + " is over rules.max_file_bytes (" + std::to_string(max_bytes) + ")");
  }
  return text;
}

}  // namespace

rules::list_resolver managed_list_resolver(const list_snapshot& lists) {
  auto open_proxies = lists.open_proxies;
  return [open_proxies](std::string_view name) -> std::shared_ptr<const storage::ip_set> {
    if (name != "open_proxies") return nullptr;
    if (open_proxies) return open_proxies;
    static const auto empty = std::make_shared<const storage::ip_set>();
    return empty;
  };
}

rule_registry::rule_registry(const rules_config& config, const login_config& login,
                             const std::filesystem::path& data_dir, const storage::clock& clock,
                             login_limiter* limiter)
    : config_(config),
      path_(config.file.value_or(data_dir / "rules.toml")),
      path_configured_(config.file.has_value()),
      clock_(clock),
      login_(login),
      limiter_(limiter) {
  auto none = std::make_shared<installed_rules>();
  rules::rule_error ignored;
  none->set = rules::rule_set::compile("", managed_list_resolver(list_snapshot{}), ignored);
  none->counters = std::make_shared<rule_hit_counters>(0);
  none->sha256 = sha256_text("");
  none->rate_rules = login_.rules;
  if (limiter_ != nullptr) limiter_->cover_username_rules(none->rate_rules);
  current_ = std::move(none);
}

std::variant<std::shared_ptr<installed_rules>, rules::rule_error> rule_registry::build(
    std::string_view text, const std::shared_ptr<const storage::ip_set>& open_proxies) const {
  if (text.size() > config_.max_file_bytes) {
    rules::rule_error why;
    why.expected = "at most " + std::to_string(config_.max_file_bytes) + " bytes";
    why.message = "the rule file is over rules.max_file_bytes (" + std::to_string(config_.max_file_bytes) + " bytes)";
    return why;
  }
  list_snapshot lists;
  lists.open_proxies = open_proxies;
  rules::rule_error why;
  auto set = rules::rule_set::compile(text, managed_list_resolver(lists), why);
  if (!set) return why;
  if (login_.rules_given && !set->rate_limits().empty()) {
    const auto& first = set->rate_limits().front();
    rules::rule_error clash;
    clash.rule = first.id;
    clash.line = first.line;
    clash.column = 1;
    clash.expected = "no [[rate_limit]] while [[login.rules]] is in the config";
    clash.message = "rule " + first.id + " (line " + std::to_string(first.line) +
                    "): [[rate_limit]] rules replace [[login.rules]]; move the config's [[login.rules]] into the "
                    "rule file as [[rate_limit]] tables (docs/rules.md, \"Rate-limit rules\")";
    return clash;
  }
  auto next = std::make_shared<installed_rules>();
  next->counters = std::make_shared<rule_hit_counters>(set->rules().size());
  next->set = std::move(set);
  next->text = std::string(text);
  next->sha256 = sha256_text(text);
  next->open_proxies = open_proxies;
  next->rate_rules_from_file = !next->set->rate_limits().empty();
  if (next->rate_rules_from_file) {
    for (const auto& limit : next->set->rate_limits()) next->rate_rules.push_back(login_rule_of(limit));
  } else {
    next->rate_rules = login_.rules;
  }
  return next;
}

namespace {

// A rule kept by id from one version to the next keeps its counts.
void carry_hits(const installed_rules& from, installed_rules& into) {
  if (!from.set) return;
  const auto& old_rules = from.set->rules();
  const auto& new_rules = into.set->rules();
  for (std::size_t i = 0; i < new_rules.size(); ++i) {
    for (std::size_t j = 0; j < old_rules.size(); ++j) {
      if (old_rules[j].id != new_rules[i].id) continue;
      into.counters->hits[i].store(from.counters->hits[j].load(std::memory_order_relaxed), std::memory_order_relaxed);
      into.counters->shadow_hits[i].store(from.counters->shadow_hits[j].load(std::memory_order_relaxed),
                                          std::memory_order_relaxed);
      break;
    }
  }
}

}  // namespace

void rule_registry::publish(std::shared_ptr<const installed_rules> newest,
                            std::shared_ptr<const installed_rules> previous) {
  // Before the version serves: its username limits count state under the previous key version
  // for as long as that state can be live (a key rotation, docs/login-limits.md).
  if (limiter_ != nullptr) limiter_->cover_username_rules(newest->rate_rules);
  {
    std::lock_guard lock(current_mutex_);
    current_.swap(newest);
    previous_.swap(previous);
  }  // the bindings replaced, if these held their last references, are freed outside the lock
}

rules_outcome rule_registry::install(std::string_view text, bool write_file) {
  auto before = published();
  // The text serving already (a SIGHUP for the lists, a repeated PUT): nothing to compile.
  if (before->version != 0 && sha256_text(text) == before->sha256) return rules_change{false, before, before};
  auto built = build(text, newest_list_);
  if (auto* why = std::get_if<rules::rule_error>(&built)) return *why;
  auto next = std::get<std::shared_ptr<installed_rules>>(std::move(built));
  // The same version bound to the list before the newest, for the requests still holding it.
  std::shared_ptr<installed_rules> beside;
  if (previous_list_ != newest_list_) {
    auto other = build(text, previous_list_);
    // It compiled against the newest list and binds only managed lists, which always resolve.
    if (auto* ready = std::get_if<std::shared_ptr<installed_rules>>(&other)) beside = std::move(*ready);
  }
  // On disk first: a set that is serving is always the one a restart loads.
  if (write_file) {
    if (auto written = storage::replace_private_file(path_, text); !written) return written.error();
  }
  next->version = next_version_++;
  next->loaded_at_ms = clock_.unix_ms();
  carry_hits(*before, *next);
  if (beside) {
    beside->version = next->version;
    beside->loaded_at_ms = next->loaded_at_ms;
    beside->counters = next->counters;  // one version, one set of counts
  }
  std::shared_ptr<const installed_rules> after = next;
  publish(std::move(next), std::move(beside));
  return rules_change{true, before, after};
}

result<void> rule_registry::load(const list_snapshot& lists) {
  std::lock_guard install_lock(install_mutex_);
  newest_list_ = lists.open_proxies;
  previous_list_ = lists.open_proxies;  // one list known: one binding per version
  auto text = read_rule_file(path_, config_.max_file_bytes);
  if (!text) {
    if (text.error().kind == error_kind::not_found && !path_configured_) return {};  // no rules yet
    return text.error();
  }
  auto outcome = install(*text, false);
  if (auto* why = std::get_if<rules::rule_error>(&outcome)) {
    return make_error(error_kind::invalid_input, "rule file " + path_.string() + ": " + why->message);
  }
  if (auto* failed = std::get_if<error>(&outcome)) return *failed;
  return {};
}

void rule_registry::bind(const list_snapshot& next) noexcept {
  std::lock_guard install_lock(install_mutex_);
  if (next.open_proxies == newest_list_) return;
  previous_list_ = std::move(newest_list_);
  newest_list_ = next.open_proxies;
  auto now = published();  // bound to previous_list_ now
  if (now->version == 0) return;  // no rule file: nothing is bound to a list
  // The text compiled before and binds only managed lists, which always resolve; only memory can
  // fail here. Then the version keeps serving bound to the list before (current() falls back to
  // it), and the list reload that called this goes on: nothing throws into a reloading thread.
  try {
    auto rebuilt = build(now->text, newest_list_);
    auto* ready = std::get_if<std::shared_ptr<installed_rules>>(&rebuilt);
    if (ready == nullptr) return;
    (*ready)->version = now->version;
    (*ready)->loaded_at_ms = now->loaded_at_ms;
    (*ready)->counters = now->counters;  // one version, one set of counts
    publish(std::move(*ready), std::move(now));
  } catch (...) {
  }
}

std::shared_ptr<const installed_rules> rule_registry::published() const {
  std::lock_guard lock(current_mutex_);
  return current_;
}

std::shared_ptr<const installed_rules> rule_registry::current(const list_snapshot& lists) const {
  std::lock_guard lock(current_mutex_);
  if (previous_ != nullptr && current_->open_proxies != lists.open_proxies &&
      previous_->open_proxies == lists.open_proxies) {
    return previous_;
  }
  return current_;
}

rules_outcome rule_registry::replace(std::string_view text) {
  std::lock_guard install_lock(install_mutex_);
  return install(text, true);
}

rules_outcome rule_registry::reload() {
  std::lock_guard install_lock(install_mutex_);
  auto text = read_rule_file(path_, config_.max_file_bytes);
  if (!text) {
    // The file went away: keep serving what is loaded (like a list whose file is missing).
    return text.error();
  }
  return install(*text, false);
}

result<std::string> rule_registry::read_file() const { return read_rule_file(path_, config_.max_file_bytes); }

std::variant<std::shared_ptr<const rules::rule_set>, rules::rule_error> rule_registry::compile(
    std::string_view text, const list_snapshot& lists) const {
  auto built = build(text, lists.open_proxies);
  if (auto* why = std::get_if<rules::rule_error>(&built)) return *why;
  return std::shared_ptr<const rules::rule_set>(std::get<std::shared_ptr<installed_rules>>(built)->set);
}

void rule_registry::count(const installed_rules& rules, const rules::decision& d) noexcept {
  auto& counters = *rules.counters;
  if (d.rule && *d.rule < counters.hits.size()) counters.hits[*d.rule].fetch_add(1, std::memory_order_relaxed);
  for (auto i : d.logged) {
    if (i < counters.hits.size()) counters.hits[i].fetch_add(1, std::memory_order_relaxed);
  }
  for (auto i : d.shadow) {
    if (i < counters.shadow_hits.size()) counters.shadow_hits[i].fetch_add(1, std::memory_order_relaxed);
  }
}

void rule_registry::append_hit_series(std::vector<std::pair<std::string, std::uint64_t>>& out) const {
  const auto now = published();
  const auto& rules = now->set->rules();
  for (std::size_t i = 0; i < rules.size(); ++i) {
    out.emplace_back("rule_hits." + rules[i].id, now->counters->hits[i].load(std::memory_order_relaxed));
    out.emplace_back("rule_shadow_hits." + rules[i].id, now->counters->shadow_hits[i].load(std::memory_order_relaxed));
  }
}

std::string rule_registry::prometheus_text() const {
  const auto now = published();
  std::string out;
  out += "# HELP callsign_rules_version The rule set version serving (0: no rule file).\n";
  out += "# TYPE callsign_rules_version gauge\n";
  out += "callsign_rules_version " + std::to_string(now->version) + "\n";
  out += "# HELP callsign_rule_hits_total Requests a login rule matched, by rule id and mode.\n";
  out += "# TYPE callsign_rule_hits_total counter\n";
  const auto& rules = now->set->rules();
  for (std::size_t i = 0; i < rules.size(); ++i) {
    // Ids are [a-z0-9._-]: safe as label values without escaping.
    out += "callsign_rule_hits_total{rule=\"" + rules[i].id + "\",mode=\"enforce\"} " +
           std::to_string(now->counters->hits[i].load(std::memory_order_relaxed)) + "\n";
    out += "callsign_rule_hits_total{rule=\"" + rules[i].id + "\",mode=\"shadow\"} " +
           std::to_string(now->counters->shadow_hits[i].load(std::memory_order_relaxed)) + "\n";
  }
  return out;
}

}  // namespace callsign::server
