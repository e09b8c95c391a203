#include "server/control/hangup_reload.hpp"

#include "server/app_context.hpp"
#include "server/cluster/cluster_link.hpp"
#include "server/cluster/cluster_lists.hpp"
#include "server/lists/list_refresher.hpp"
#include "server/lists/list_registry.hpp"
#include "server/rules/rule_change_audit.hpp"

namespace callsign::server {

void reload_sources_on_hangup(app_context& app) {
  if (app.lists != nullptr) {
    const auto outcomes = app.lists->reload_all([&app](list_id id, const result<reload_outcome>& outcome) {
      report_list_outcome(app.log, app.writer, app.clock, sighup_reload, id, outcome);
    });
    // Several nodes: every other node reloads them too (docs/cluster.md, "Lists").
    if (auto* cluster = app.cluster != nullptr ? app.cluster->lists() : nullptr; cluster != nullptr) {
      for (const auto& [id, outcome] : outcomes) cluster->reloaded_by_admin(id, outcome);
    }
  }
  // The rule file after the lists, so $open_proxies binds the reloaded list (docs/rules.md).
  reload_rules_in_background(app);
}

}  // namespace callsign::server
