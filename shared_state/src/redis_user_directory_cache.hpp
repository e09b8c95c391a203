// A node's cache of user records for redis_user_directory, by id and by normalized email
// (docs/shared-state-redis.md, "The cache"), under generation_cache's rules. An email answers
// only through the record it was learned from: whatever moves an email from one user to another
// changes the first user, which drops that record and its email with it.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "generation_cache.hpp"
#include "storage/user_directory.hpp"

namespace callsign::shared_state {

// The emails of the records kept, each naming its record's id; kept and erased with them.
struct email_index {
  std::unordered_map<std::string, std::string> by_email;  // email -> id

  void kept(const std::string& id, const storage::stored_user& user) {
    if (!user.record.email.empty()) by_email[user.record.email] = id;
  }
  void erased(const std::string& id, const storage::stored_user& user) {
    if (user.record.email.empty()) return;
    if (auto named = by_email.find(user.record.email); named != by_email.end() && named->second == id) {
      by_email.erase(named);
    }
  }
  void cleared() { by_email.clear(); }
};

// Thread-safety: generation_cache's.
class user_record_cache final : public generation_cache<storage::stored_user, email_index> {
 public:
  using generation_cache::generation_cache;

  // The cached record whose (normalized) email this is, if any; `generation` as find's.
  std::optional<storage::stored_user> find_by_email(std::string_view email, std::uint64_t& generation) {
    return find_indexed(
        [email](const email_index& index, const map& by_id) -> std::optional<storage::stored_user> {
          const auto named = index.by_email.find(std::string(email));
          if (named == index.by_email.end()) return std::nullopt;
          const auto it = by_id.find(named->second);
          if (it == by_id.end() || it->second.record.email != email) {
            return std::nullopt;  // unreachable while keep and erase pair the two; never trusted
          }
          return it->second;
        },
        generation);
  }

  void keep(const storage::stored_user& user, std::uint64_t generation) {
    generation_cache::keep(user.record.id, user, generation);
  }
};

}  // namespace callsign::shared_state
