// Users: id -> record, plus a normalized-email index. Writes are staged into a change_set.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/result.hpp"
#include "storage/change_set.hpp"
#include "storage/database.hpp"

namespace callsign::storage {

struct user_record {
  std::string id;
  std::string email;  // normalized (trimmed, lower-case)
  bool phone_support = false;
  std::int64_t created_at = 0;
  std::int64_t updated_at = 0;
};

// User ids: 1-128 bytes of [A-Za-z0-9._@:-]; they appear in keys, URLs and audit entries.
bool valid_user_id(std::string_view id) noexcept;
// Lower-cases and trims; fails unless it looks like local@domain (<= 254 bytes, no spaces or controls).
result<std::string> normalize_email(std::string_view email);

// Format "u2" carries the record's version (user_directory.hpp); records written before
// versions ("u1") still decode, as version 1.
std::string encode_user(const user_record& user, std::uint64_t version = 1);
result<user_record> decode_user(std::string_view id, std::string_view bytes, std::uint64_t* version = nullptr);

// One page of the directory, in id order.
struct user_page {
  std::vector<user_record> users;
  std::optional<std::string> next_after;  // the last id of this page when more users follow
};

// Synchronous reads and staging, for tools and tests; the server reads and writes users through
// storage::user_directory (embedded_user_directory.hpp), which versions and serializes writes.
// Thread-safety: reads may run concurrently; callers serialize upserts and removals.
class user_store {
 public:
  explicit user_store(database& db) : db_(db) {}

  result<std::optional<user_record>> find(std::string_view id) const;
  result<std::optional<user_record>> find_by_email(std::string_view normalized_email) const;

  // Stages the record and its email index; drops the old index entry when the email changed.
  // Fails with conflict when the email belongs to another user.
  result<void> stage_upsert(const user_record& user, const std::optional<user_record>& previous,
                            change_set& changes, std::uint64_t version = 1) const;

  // Stages the removal of the record and of its email index entry (only while that entry still
  // names this user). Nothing else: replay marks stay, so a re-created id cannot replay an old code.
  result<void> stage_remove(const user_record& user, change_set& changes) const;

  // Up to `limit` users with ids after `after` (empty: from the first), in byte order of the id,
  // read from one snapshot. next_after is set only when at least one more user follows.
  result<user_page> list(std::string_view after, std::size_t limit) const;

 private:
  database& db_;
};

}  // namespace callsign::storage
