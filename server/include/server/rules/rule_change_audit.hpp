// The audit entries of a rule file change (docs/rules.md, "Lifecycle"), for the admin routes and
// for SIGHUP alike: the first entry carries the outcome, versions and the ids added, removed and
// changed; the line diff follows in chunks (a detail holds 1 KiB, an entry 32 details), in as
// many entries as it takes. Rule text is audited; request values never are.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "server/observability/json_log.hpp"
#include "server/rules/rule_registry.hpp"
#include "storage/audit_entry.hpp"
#include "storage/change_set.hpp"

namespace callsign::server {

// `draft(action)` makes an entry with the actor and request filled in.
std::vector<storage::audit_draft> rule_change_audit(const std::function<storage::audit_draft(std::string)>& draft,
                                                    std::string_view action, const rules_change& change);
// A refused change: the outcome "rejected" and the reason (rule id, line, column; no values).
storage::audit_draft rule_refusal_audit(storage::audit_draft draft, std::string_view message);

struct app_context;
// SIGHUP: reads the rule file again, logs and audits the outcome (no one waits for the entry).
void reload_rules_in_background(app_context& app);

}  // namespace callsign::server
