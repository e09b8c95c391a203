// The changes group_commit_bench.cpp submits: shaped like what POST /v1/verify commits, or
// (--shape record) one plain put each. Included by group_commit_bench.cpp only.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>

#include "storage/change_set.hpp"
#include "storage/shared_state_format.hpp"

namespace group_commit_changes {

using namespace callsign;

// Keyed records one change stands for, on average: the audit entry, its audit_by_user index key,
// and one replay mark (a third of the changes) or three counters (two thirds).
inline constexpr double records_per_item = 2.0 + (1.0 + 2.0 * 3.0) / 3.0;

// A verify attempt's audit entry: about 330 bytes once encoded, like the server's.
inline storage::change_set verify_like_change(int thread, std::uint64_t n) {
  storage::change_set change;
  const std::string user = "user-" + std::to_string((static_cast<std::uint64_t>(thread) * 7919 + n) % 2000);
  storage::audit_draft draft;
  draft.time = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
                   .count();
  draft.actor_type = "agent";
  draft.actor_id = "bench-agent-" + std::to_string(thread % 8);
  draft.action = "verify";
  draft.subject = user;
  draft.outcome = (n % 3 == 0) ? "valid" : "invalid";
  draft.source_ip = "127.0.0.1";
  char request_id[17];
  std::snprintf(request_id, sizeof request_id, "%08x%08x", static_cast<unsigned>(thread),
                static_cast<unsigned>(n));
  draft.request_id = request_id;
  draft.details.emplace_back("lookup", "id");
  if (n % 3 == 0) draft.details.emplace_back("method", "phone_token");
  // The state writes that travel with it, encoded as the server's backends encode them.
  const auto now_ms = draft.time * 1000;
  if (n % 3 == 0) {
    change.merge(storage::column_family::replay_marks, storage::replay_mark_record_key(user, "phone_token"),
                 storage::encode_replay_mark(static_cast<std::uint64_t>(now_ms / 30'000)));
  } else {
    // Exact logs at the default limits (5, 30, 100 per 15 minutes), each with a few events.
    const std::pair<std::string, std::int64_t> keys[] = {{"verify/user/" + user, 5},
                                                         {"verify/agent/" + draft.actor_id, 30},
                                                         {"verify/ip/127.0.0.1", 100}};
    for (const auto& [key, limit] : keys) {
      auto counter = storage::rate_window::empty({limit, 900'000}, now_ms);
      counter.add(1 + static_cast<std::int64_t>(n % 4), now_ms);
      change.merge(storage::column_family::counters, storage::sliding_window_record_key(key),
                   storage::encode_rate_window(counter));
    }
  }
  change.add_audit(std::move(draft));
  return change;
}

// --shape record: the group-commit mechanism alone. Each change is one put of a 300-byte value
// under its own key, the raw side's record, with no audit entry and no state writes.
inline storage::change_set plain_record_change(int thread, std::uint64_t n) {
  storage::change_set change;
  char key[32];
  std::snprintf(key, sizeof key, "bench/%04d/%016llx", thread, static_cast<unsigned long long>(n));
  change.put(storage::column_family::users, key, std::string(300, static_cast<char>('a' + n % 26)));
  return change;
}

}  // namespace group_commit_changes
