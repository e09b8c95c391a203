#include "server/rules/rule_change_audit.hpp"

#include "server/app_context.hpp"
#include "server/cluster/cluster_link.hpp"
#include "server/cluster/cluster_rules.hpp"
#include "server/lists/list_registry.hpp"
#include "server/observability/background_audit.hpp"
#include "server/rules/rule_diff.hpp"

namespace callsign::server {

namespace {

constexpr std::size_t diff_details_per_entry = 24;

std::string join_ids(const std::vector<std::string>& ids) {
  std::string out;
  for (const auto& id : ids) {
    if (out.size() + id.size() + 1 > storage::audit_field_max_bytes) break;
    out += (out.empty() ? "" : ",") + id;
  }
  return out;
}

}  // namespace

std::vector<storage::audit_draft> rule_change_audit(const std::function<storage::audit_draft(std::string)>& draft,
                                                    std::string_view action, const rules_change& change) {
  std::vector<storage::audit_draft> entries;
  auto first = draft(std::string(action));
  first.outcome = change.changed ? "installed" : "unchanged";
  first.details.emplace_back("version", std::to_string(change.after->version));
  first.details.emplace_back("sha256", change.after->sha256);
  first.details.emplace_back("previous_sha256", change.before->sha256);
  if (!change.changed) {
    entries.push_back(std::move(first));
    return entries;
  }
  const auto diff = diff_rule_files(*change.before->set, change.before->text, *change.after->set, change.after->text);
  first.details.emplace_back("added", join_ids(diff.added));
  first.details.emplace_back("removed", join_ids(diff.removed));
  first.details.emplace_back("changed", join_ids(diff.changed));
  const auto chunks = pack_diff_lines(diff.lines, storage::audit_field_max_bytes);
  first.details.emplace_back("diff_chunks", std::to_string(chunks.size()));
  std::size_t next = 0;
  for (; next < chunks.size() && next < diff_details_per_entry; ++next) {
    first.details.emplace_back("diff_" + std::to_string(next + 1), chunks[next]);
  }
  entries.push_back(std::move(first));
  while (next < chunks.size()) {
    auto more = draft(std::string(action) + ".diff");
    more.outcome = "installed";
    more.details.emplace_back("version", std::to_string(change.after->version));
    for (std::size_t n = 0; next < chunks.size() && n < diff_details_per_entry; ++n, ++next) {
      more.details.emplace_back("diff_" + std::to_string(next + 1), chunks[next]);
    }
    entries.push_back(std::move(more));
  }
  return entries;
}

storage::audit_draft rule_refusal_audit(storage::audit_draft draft, std::string_view message) {
  draft.outcome = "rejected";
  draft.details.emplace_back("error", std::string(message.substr(0, 512)));
  return draft;
}

void reload_rules_in_background(app_context& app) {
  if (app.rules == nullptr || app.lists == nullptr) return;
  // Several nodes: the file is stored in Redis first, so every node installs it (docs/cluster.md).
  auto* cluster = app.cluster != nullptr ? app.cluster->rules() : nullptr;
  auto outcome = cluster != nullptr ? cluster->reload() : app.rules->reload();
  // No rule file in use (none configured, none at the default path, none ever installed): a
  // SIGHUP for the lists or the certificate is no rules event to log or audit.
  if (const auto* failed = std::get_if<error>(&outcome); failed != nullptr && failed->kind == error_kind::not_found &&
                                                          !app.rules->file_configured() &&
                                                          app.rules->published()->version == 0) {
    return;
  }
  auto draft = [&app](std::string action) {
    return background_audit(app.clock, sighup_actor, std::move(action), "");
  };
  if (auto* change = std::get_if<rules_change>(&outcome)) {
    if (change->changed) {
      app.log.info("rules reloaded", {{"trigger", "sighup"},
                                      {"version", change->after->version},
                                      {"sha256", change->after->sha256}});
    }
    for (auto& entry : rule_change_audit(draft, "rules.reload", *change)) {
      submit_background_audit(app.writer, app.log, std::move(entry));
    }
    return;
  }
  const std::string message = std::holds_alternative<rules::rule_error>(outcome)
                                  ? std::get<rules::rule_error>(outcome).message
                                  : std::get<error>(outcome).message;
  app.log.warn("rules reload failed; the previous version keeps serving", {{"trigger", "sighup"}, {"error", message}});
  submit_background_audit(app.writer, app.log, rule_refusal_audit(draft("rules.reload"), message));
}

}  // namespace callsign::server
