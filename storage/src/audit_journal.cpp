#include "storage/audit_journal.hpp"

#include <limits>

#include "crypto/sha256.hpp"
#include "storage/audit_checkpoint.hpp"

namespace callsign::storage {
namespace {

error damaged(std::uint64_t seq, const error& cause) {
  return make_error(error_kind::internal, "audit entry " + std::to_string(seq) + " is damaged (" + cause.message +
                                              "); run 'callsign audit verify'");
}

}  // namespace

result<std::vector<audit_entry>> audit_journal::for_subject(std::string_view subject, std::size_t limit,
                                                            std::optional<std::uint64_t> before) const {
  std::vector<audit_entry> out;
  if (subject.empty() || limit == 0 || (before && *before <= 1)) return out;
  const std::string prefix = audit_subject_prefix(subject);
  const std::string from = audit_subject_key(subject, before ? *before - 1 : std::numeric_limits<std::uint64_t>::max());
  std::optional<error> failure;
  auto scanned = db_->scan(column_family::audit_by_user, database::scan_direction::backward, from,
                           [&](std::string_view key, std::string_view) {
                             if (key.size() != prefix.size() + 8 || key.substr(0, prefix.size()) != prefix) {
                               return false;  // left this subject's key range
                             }
                             const std::uint64_t seq = *parse_audit_key(key.substr(prefix.size()));
                             auto entry = at(seq);
                             if (!entry) {
                               failure = entry.error();
                               return false;
                             }
                             // The index and the entry are written in one batch, so a miss
                             // means the entry was removed behind the journal's back: skip it
                             // here; verify() reports it.
                             if (entry->has_value()) out.push_back(std::move(**entry));
                             return out.size() < limit;
                           });
  if (!scanned) return scanned.error();
  if (failure) return *failure;
  return out;
}

result<std::vector<audit_entry>> audit_journal::for_subject_after(std::string_view subject, std::uint64_t after,
                                                                  std::size_t limit) const {
  std::vector<audit_entry> out;
  if (subject.empty() || limit == 0 || after == std::numeric_limits<std::uint64_t>::max()) return out;
  const std::string prefix = audit_subject_prefix(subject);
  std::optional<error> failure;
  auto scanned = db_->scan(column_family::audit_by_user, database::scan_direction::forward,
                           audit_subject_key(subject, after + 1), [&](std::string_view key, std::string_view) {
                             if (key.size() != prefix.size() + 8 || key.substr(0, prefix.size()) != prefix) {
                               return false;  // left this subject's key range
                             }
                             auto entry = at(*parse_audit_key(key.substr(prefix.size())));
                             if (!entry) {
                               failure = entry.error();
                               return false;
                             }
                             if (entry->has_value()) out.push_back(std::move(**entry));  // as in for_subject
                             return out.size() < limit;
                           });
  if (!scanned) return scanned.error();
  if (failure) return *failure;
  return out;
}

result<std::vector<audit_entry>> audit_journal::after(std::uint64_t after, std::size_t limit) const {
  std::vector<audit_entry> out;
  if (limit == 0 || after == std::numeric_limits<std::uint64_t>::max()) return out;
  std::optional<error> failure;
  auto scanned = db_->scan(column_family::audit, database::scan_direction::forward, audit_key(after + 1),
                           [&](std::string_view key, std::string_view value) {
                             const auto seq = parse_audit_key(key);
                             auto entry = decode_audit_entry(value);
                             if (!seq || !entry) {
                               failure = damaged(seq.value_or(0),
                                                 entry ? make_error(error_kind::internal, "bad key") : entry.error());
                               return false;
                             }
                             out.push_back(std::move(*entry));
                             return out.size() < limit;
                           });
  if (!scanned) return scanned.error();
  if (failure) return *failure;
  return out;
}

result<void> audit_journal::for_each_after(std::uint64_t after,
                                           const std::function<bool(std::uint64_t, result<audit_entry>)>& visit) const {
  if (after == std::numeric_limits<std::uint64_t>::max()) return {};
  return db_->scan(column_family::audit, database::scan_direction::forward, audit_key(after + 1),
                   [&](std::string_view key, std::string_view value) {
                     const auto seq = parse_audit_key(key);
                     if (!seq) return visit(0, make_error(error_kind::invalid_input, "an entry key is malformed"));
                     return visit(*seq, decode_audit_entry(value));
                   });
}

result<std::optional<audit_entry>> audit_journal::at(std::uint64_t seq) const {
  auto stored = db_->get(column_family::audit, audit_key(seq));
  if (!stored) return stored.error();
  if (!stored->has_value()) return std::optional<audit_entry>{};
  auto entry = decode_audit_entry(**stored);
  if (!entry) return damaged(seq, entry.error());
  return std::optional<audit_entry>(std::move(*entry));
}

result<std::uint64_t> audit_journal::last_sequence() const {
  auto head = chain_head();
  if (!head) return head.error();
  return head->last_seq;
}

result<std::uint64_t> audit_journal::first_sequence() const {
  std::uint64_t first = 0;
  std::optional<error> failure;
  auto scanned = db_->scan(column_family::audit, database::scan_direction::forward, {},
                           [&](std::string_view key, std::string_view) {
                             const auto seq = parse_audit_key(key);
                             if (!seq) failure = make_error(error_kind::internal, "the first audit key is malformed");
                             first = seq.value_or(0);
                             return false;
                           });
  if (!scanned) return scanned.error();
  if (failure) return *failure;
  return first;
}

result<std::optional<audit_checkpoint>> audit_journal::checkpoint_at(std::uint64_t seq) const {
  auto stored = db_->get(column_family::audit_checkpoints, audit_key(seq));
  if (!stored) return stored.error();
  if (!stored->has_value()) return std::optional<audit_checkpoint>{};
  auto checkpoint = decode_audit_checkpoint(**stored);
  if (!checkpoint) return make_error(error_kind::internal, "the audit checkpoint at seq " + std::to_string(seq) +
                                                               " does not parse; run 'callsign audit verify'");
  return std::optional<audit_checkpoint>(*checkpoint);
}

result<audit_chain_head> audit_journal::chain_head() const {
  audit_chain_head head;
  std::optional<error> failure;
  auto scanned = db_->scan(column_family::audit, database::scan_direction::backward, {},
                           [&](std::string_view key, std::string_view value) {
                             const auto seq = parse_audit_key(key);
                             if (!seq) {
                               failure = make_error(error_kind::internal, "the last audit key is malformed");
                               return false;
                             }
                             head.last_seq = *seq;
                             head.last_hash = crypto::sha256(value);
                             return false;
                           });
  if (!scanned) return scanned.error();
  if (failure) return *failure;
  scanned = db_->scan(column_family::audit_checkpoints, database::scan_direction::backward, {},
                      [&](std::string_view key, std::string_view value) {
                        auto checkpoint = decode_audit_checkpoint(value);
                        const auto seq = parse_audit_key(key);
                        if (!seq || !checkpoint) {
                          failure = make_error(error_kind::internal, "the last audit checkpoint is malformed");
                          return false;
                        }
                        head.checkpoint_seq = *seq;
                        head.checkpoint_time = checkpoint->time;
                        return false;
                      });
  if (!scanned) return scanned.error();
  if (failure) return *failure;
  return head;
}

}  // namespace callsign::storage
