// Cross-links between the journals of several nodes (issue 18; docs/audit.md, "Several
// nodes"). A node that receives another node's signed checkpoint (node, seq, head hash) writes
// it into its own chain as an "audit.link" entry, so rewriting the other node's journal breaks
// a link this node holds. verify_audit_links checks those links across the journals given.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/result.hpp"
#include "storage/audit_entry.hpp"
#include "storage/audit_journal.hpp"
#include "storage/change_set.hpp"

namespace callsign::storage {

inline constexpr std::string_view audit_link_action = "audit.link";
inline constexpr std::string_view audit_link_actor_id = "checkpoint_exchange";

// Another node's entry as its signed checkpoint names it. Plain value.
struct audit_link {
  std::string node;       // valid_audit_node_id
  std::uint64_t seq = 0;  // its entry ...
  audit_hash head{};      // ... and the SHA-256 of that entry's stored bytes
};

// The draft of an audit.link entry: actor "system"/audit_link_actor_id, outcome "ok", one
// detail per link (key: the node id, value: "<seq>:<64 lower-case hex>"). At most
// audit_details_max links, distinct nodes (the caller's duty; validate_audit_draft refuses
// more or repeated ones).
audit_draft audit_link_draft(std::int64_t time, std::span<const audit_link> links);

// The links an audit.link entry holds; invalid_input when its details are not links.
result<std::vector<audit_link>> audit_links_of(const audit_entry& entry);

// One journal given to verify_audit_links: `label` names it in reports (the CLI: its data
// directory). The journal must outlive the call.
struct audit_journal_source {
  std::string label;
  const audit_journal* journal = nullptr;
};

// A link that does not hold: the linked node's journal has no entry `linked_seq`, or that
// entry's hash is not the one linked.
struct audit_broken_link {
  std::string journal;  // label of the journal holding the link
  std::string holder_node;
  std::uint64_t entry_seq = 0;  // the audit.link entry
  std::string linked_node;
  std::uint64_t linked_seq = 0;
  std::string reason;
};

struct audit_journal_links {
  std::string node;  // the node its entries name; empty when none does
  std::uint64_t links_held = 0;
  std::uint64_t links_checked = 0;  // of those, naming a journal given
};

struct audit_cross_verification {
  std::vector<audit_journal_links> journals;  // in the order given
  std::uint64_t links_checked = 0;
  std::uint64_t links_pruned = 0;            // naming entries that journal's retention removed
  std::uint64_t links_unchecked = 0;         // naming a node whose journal was not given ...
  std::vector<std::string> unchecked_nodes;  // ... these nodes, sorted
  std::vector<audit_broken_link> broken;
  // Journals that cannot be matched to one node: entries naming several nodes, two journals of
  // one node, an entry that does not decode (verify() says more).
  std::vector<std::string> problems;
  bool intact() const noexcept { return broken.empty() && problems.empty(); }
};

// Reads every journal's entries, finds each journal's node, then checks every link of every
// audit.link entry against the journal of the node it names when that one is given. An error
// result only for read failures; broken links and problems are values.
result<audit_cross_verification> verify_audit_links(std::span<const audit_journal_source> journals);

}  // namespace callsign::storage
