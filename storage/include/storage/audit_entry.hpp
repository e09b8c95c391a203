// One hash-chained audit journal entry: its canonical stored bytes, its decoded form, its
// JSON for the HTTP API and `callsign audit export`, and its keys. docs/audit.md has the format.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "crypto/result.hpp"
#include "storage/change_set.hpp"

namespace callsign::storage {

// SHA-256 of an entry's stored bytes; the first entry's prev_hash is all zeros.
using audit_hash = std::array<std::uint8_t, 32>;

// An entry as read back. Plain value; safe to copy between threads.
struct audit_entry {
  std::uint64_t seq = 0;
  std::string node;       // the node that wrote it (shared mode); empty for a single node
  std::int64_t time = 0;  // unix seconds
  std::string actor_type;
  std::string actor_id;
  std::string action;
  std::string subject;
  std::string outcome;
  std::string source_ip;
  std::string request_id;
  std::vector<std::pair<std::string, std::string>> details;  // sorted by key, keys unique
  std::string prev_hash;                                     // 64 lower-case hex characters
  std::string hash;  // SHA-256 of the stored bytes, 64 lower-case hex characters
};

inline constexpr std::size_t audit_field_max_bytes = 1024;
inline constexpr std::size_t audit_detail_key_max_bytes = 64;
inline constexpr std::size_t audit_details_max = 32;

// A node id as entries carry it: 1 to 64 characters from a-z 0-9 . _ - (the rule of
// [shared_state] node_id), so it is also a valid detail key.
bool valid_audit_node_id(std::string_view node);

// What the journal refuses to store (error_kind::invalid_input): an empty actor_type or
// action, a field over audit_field_max_bytes, more than audit_details_max details, an empty,
// oversized or repeated detail key, a subject containing NUL (it ends the index key prefix).
// Invalid UTF-8 is not refused: encoding replaces it with U+FFFD so the entry is still kept.
result<void> validate_audit_draft(const audit_draft& draft);

// The canonical stored bytes of a validated draft: compact JSON with a fixed member order
// ("v":1 first), details sorted by key, minimal escaping. Deterministic, so re-encoding a
// decoded entry gives the same bytes. A non-empty `node` (valid_audit_node_id) is stored as
// "node" right after "seq"; an empty one adds nothing, so single-node entries keep their bytes.
std::string encode_audit_entry(std::uint64_t seq, const audit_hash& prev_hash, const audit_draft& draft,
                               std::string_view node = {});

// Appends the records a validated entry is stored as: its canonical bytes at audit_key(seq) in
// column_family::audit and, when it has a subject, its audit_subject_key in audit_by_user.
// Returns the entry's hash, the next entry's prev_hash.
audit_hash append_audit_records(std::uint64_t seq, const audit_hash& prev_hash, const audit_draft& draft,
                                std::vector<write_op>& ops, std::string_view node = {});

// Parses stored bytes and computes `hash` from them. error_kind::invalid_input for anything
// that is not a well-formed entry (wrong member names or order, wrong types, bad hex, a
// "node" that is empty or not a node id).
result<audit_entry> decode_audit_entry(std::string_view stored);

// One line of compact JSON: the stored members in stored order, then "hash". Removing the
// final "hash" member gives back exactly the bytes the chain hashes.
std::string audit_entry_json(const audit_entry& entry);

// column_family::audit key: the sequence number as 8 big-endian bytes, so keys sort by seq.
std::string audit_key(std::uint64_t seq);
std::optional<std::uint64_t> parse_audit_key(std::string_view key);  // nullopt unless 8 bytes
// column_family::audit_by_user key: subject || 0x00 || be64(seq) (value empty).
std::string audit_subject_prefix(std::string_view subject);
std::string audit_subject_key(std::string_view subject, std::uint64_t seq);

}  // namespace callsign::storage
