#include "storage/audit_links.hpp"

#include <algorithm>
#include <charconv>
#include <map>
#include <optional>
#include <set>

#include "crypto/hex.hpp"

namespace callsign::storage {
namespace {

bool is_lower_hex(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

std::string join(const std::set<std::string>& names) {
  std::string out;
  for (const auto& name : names) out += (out.empty() ? "" : ", ") + name;
  return out;
}

// One journal's facts gathered by the first pass.
struct scanned_journal {
  std::set<std::string> nodes;
  struct held_link {
    std::uint64_t entry_seq = 0;
    std::optional<audit_link> link;  // nullopt: the entry's details are not links
  };
  std::vector<held_link> links;
  std::optional<std::uint64_t> damaged_seq;
  std::uint64_t first_seq = 0;  // the first entry: 1, or past a pruned head
};

result<scanned_journal> scan_journal(const audit_journal& journal) {
  scanned_journal out;
  auto read = journal.for_each_after(0, [&](std::uint64_t seq, result<audit_entry> entry) {
    if (out.first_seq == 0) out.first_seq = seq;
    if (!entry) {
      out.damaged_seq = seq;
      return false;
    }
    if (!entry->node.empty()) out.nodes.insert(entry->node);
    if (entry->action != audit_link_action) return true;
    auto links = audit_links_of(*entry);
    if (!links) {
      out.links.push_back({seq, std::nullopt});
      return true;
    }
    for (auto& link : *links) out.links.push_back({seq, std::move(link)});
    return true;
  });
  if (!read) return read.error();
  return out;
}

}  // namespace

audit_draft audit_link_draft(std::int64_t time, std::span<const audit_link> links) {
  audit_draft draft;
  draft.time = time;
  draft.actor_type = "system";
  draft.actor_id = std::string(audit_link_actor_id);
  draft.action = std::string(audit_link_action);
  draft.outcome = "ok";
  for (const auto& link : links) {
    draft.details.emplace_back(link.node, std::to_string(link.seq) + ":" + crypto::hex_encode(link.head));
  }
  return draft;
}

result<std::vector<audit_link>> audit_links_of(const audit_entry& entry) {
  const auto bad = [](std::string why) { return make_error(error_kind::invalid_input, std::move(why)); };
  if (entry.action != audit_link_action) return bad("not an audit.link entry");
  std::vector<audit_link> links;
  for (const auto& [node, value] : entry.details) {
    if (!valid_audit_node_id(node)) return bad("an audit.link detail key is not a node id");
    const auto colon = value.find(':');
    if (colon == std::string::npos || colon == 0 || value.size() - colon - 1 != 64) {
      return bad("an audit.link detail is not <seq>:<hash>");
    }
    audit_link link{node, 0, {}};
    const auto digits = std::string_view(value).substr(0, colon);
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), link.seq);
    const auto hex = std::string_view(value).substr(colon + 1);
    if (ec != std::errc() || end != digits.data() + digits.size() || link.seq == 0 || !is_lower_hex(hex) ||
        !crypto::hex_decode_into(hex, link.head)) {
      return bad("an audit.link detail is not <seq>:<hash>");
    }
    links.push_back(std::move(link));
  }
  return links;
}

result<audit_cross_verification> verify_audit_links(std::span<const audit_journal_source> journals) {
  audit_cross_verification report;
  std::vector<scanned_journal> scanned;
  std::map<std::string, std::size_t> by_node;
  for (std::size_t i = 0; i < journals.size(); ++i) {
    auto journal = scan_journal(*journals[i].journal);
    if (!journal) return journal.error();
    audit_journal_links summary;
    if (journal->damaged_seq) {
      report.problems.push_back("journal " + journals[i].label + ": entry " + std::to_string(*journal->damaged_seq) +
                                " does not decode, so its later links were not read");
    }
    if (journal->nodes.size() > 1) {
      report.problems.push_back("journal " + journals[i].label + ": its entries name several nodes (" +
                                join(journal->nodes) + ")");
    } else if (journal->nodes.size() == 1) {
      summary.node = *journal->nodes.begin();
      if (auto [it, added] = by_node.emplace(summary.node, i); !added) {
        report.problems.push_back("journals " + journals[it->second].label + " and " + journals[i].label +
                                  " are both node " + summary.node);
      }
    }
    report.journals.push_back(std::move(summary));
    scanned.push_back(std::move(*journal));
  }

  std::set<std::string> unchecked;
  for (std::size_t i = 0; i < journals.size(); ++i) {
    auto& summary = report.journals[i];
    for (const auto& held : scanned[i].links) {
      const auto broken = [&](std::string linked_node, std::uint64_t linked_seq, std::string reason) {
        report.broken.push_back(
            {journals[i].label, summary.node, held.entry_seq, std::move(linked_node), linked_seq, std::move(reason)});
      };
      if (!held.link) {
        broken({}, 0, "the audit.link entry's details are not links");
        continue;
      }
      const audit_link& link = *held.link;
      ++summary.links_held;
      const auto target = by_node.find(link.node);
      if (target == by_node.end()) {
        ++report.links_unchecked;
        unchecked.insert(link.node);
        continue;
      }
      const audit_journal& linked = *journals[target->second].journal;
      auto entry = linked.at(link.seq);
      if (entry && !entry->has_value() && link.seq < scanned[target->second].first_seq) {
        // Pruned there (docs/audit.md, "Retention"): the anchor checkpoint still holds the
        // hash of the entry just before the first one; links to older entries cannot be checked.
        if (link.seq + 1 < scanned[target->second].first_seq) {
          ++report.links_pruned;
          continue;
        }
        ++summary.links_checked;
        ++report.links_checked;
        auto anchor = linked.checkpoint_at(link.seq);
        if (!anchor) {
          broken(link.node, link.seq, "the anchor checkpoint cannot be read (" + anchor.error().message + ")");
        } else if (!anchor->has_value() || (*anchor)->entry_hash != link.head) {
          broken(link.node, link.seq,
                 "node " + link.node + "'s journal is pruned through entry " + std::to_string(link.seq) +
                     ", and its anchor checkpoint does not hold the linked hash");
        }
        continue;
      }
      ++summary.links_checked;
      ++report.links_checked;
      if (!entry) {
        broken(link.node, link.seq, "the linked entry cannot be read (" + entry.error().message + ")");
      } else if (!entry->has_value()) {
        broken(link.node, link.seq, "node " + link.node + "'s journal has no entry " + std::to_string(link.seq));
      } else if ((*entry)->hash != crypto::hex_encode(link.head)) {
        broken(link.node, link.seq,
               "entry " + std::to_string(link.seq) + " of node " + link.node + "'s journal hashes to " +
                   (*entry)->hash + ", the link holds " + crypto::hex_encode(link.head));
      }
    }
  }
  report.unchecked_nodes.assign(unchecked.begin(), unchecked.end());
  return report;
}

}  // namespace callsign::storage
