// A bounded memory of bearer tokens that passed token_verifier's full check, so that a caller
// presenting the same token again (a login front-end's service token, an agent's session)
// costs one SHA-256 instead of a signature check and two JSON parses. See docs/auth.md.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>
#include <vector>

#include "crypto/sha256.hpp"
#include "server/auth/role.hpp"

namespace callsign::server {

// Direct-mapped: a token's SHA-256 picks one slot, and a newer token for that slot replaces the
// older one. A slot keeps the digest, never the token, so a memory dump yields no usable
// bearer token. A hit re-checks the time window that the full check saw: the entry holds the
// token's [nbf - leeway, exp + leeway) interval, so a cached token expires exactly when an
// uncached one would. Everything else the full check depends on (signature, key, iss, aud, sub,
// role) does not change with time, and the cache belongs to one verifier, i.e. one key set.
//
// Thread safety: find() and store() may be called concurrently; slots are guarded by striped
// mutexes.
class verified_token_cache {
 public:
  // `slots` is rounded up to a power of two; 0 makes a cache that never hits.
  explicit verified_token_cache(std::size_t slots);
  verified_token_cache(const verified_token_cache&) = delete;
  verified_token_cache& operator=(const verified_token_cache&) = delete;

  using digest = crypto::sha256_digest;
  static digest digest_of(std::string_view token);

  // The principal stored for this digest, if [valid_from, valid_until) holds `now`.
  std::optional<principal> find(const digest& key, std::int64_t now) const;
  void store(const digest& key, const principal& who, std::int64_t valid_from, std::int64_t valid_until);

  std::size_t slots() const noexcept { return slots_.size(); }

 private:
  struct slot {
    digest key{};
    bool used = false;
    principal who;
    std::int64_t valid_from = 0;
    std::int64_t valid_until = 0;
  };
  static constexpr std::size_t stripes = 64;

  std::size_t index_of(const digest& key) const noexcept;
  std::mutex& stripe_of(std::size_t index) const noexcept { return locks_[index % stripes]; }

  std::vector<slot> slots_;
  mutable std::array<std::mutex, stripes> locks_;
};

}  // namespace callsign::server
