// Authenticator-app secrets per user, stored only sealed (AES-256-GCM, associated data = user id).
// A record holds the active secret and, during enrollment, a pending one.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "crypto/result.hpp"
#include "storage/change_set.hpp"
#include "storage/database.hpp"

namespace callsign::storage {

struct authenticator_record {
  std::optional<std::string> active_sealed;  // sealed blob bytes
  std::int64_t activated_at = 0;
  std::optional<std::string> pending_sealed;
  std::int64_t pending_since = 0;

  bool empty() const noexcept { return !active_sealed && !pending_sealed; }
};

// Format "a2" carries the record's version (authenticator_directory.hpp); records written before
// versions ("a1") still decode, as version 1.
std::string encode_authenticator(const authenticator_record& record, std::uint64_t version = 1);
result<authenticator_record> decode_authenticator(std::string_view bytes, std::uint64_t* version = nullptr);

// Synchronous reads and staging for tools and tests (key rotation); the server goes through
// storage::authenticator_directory (embedded_authenticator_directory.hpp).
// Thread-safety: reads may run concurrently; callers serialize changes per user.
class authenticator_store {
 public:
  explicit authenticator_store(database& db) : db_(db) {}

  result<authenticator_record> find(std::string_view user_id) const;  // empty record when none
  void stage_put(std::string_view user_id, const authenticator_record& record, change_set& changes,
                 std::uint64_t version = 1) const;
  // Drops the user's enrollment, active and pending (deprovisioning, DELETE /v1/users/{id}).
  void stage_remove(std::string_view user_id, change_set& changes) const;

 private:
  database& db_;
};

}  // namespace callsign::storage
