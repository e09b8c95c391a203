#include "server/auth/verified_token_cache.hpp"

#include <bit>
#include <cstring>

#include "crypto/constant_time.hpp"

namespace callsign::server {

verified_token_cache::verified_token_cache(std::size_t slots)
    : slots_(slots == 0 ? 0 : std::bit_ceil(slots)) {}

verified_token_cache::digest verified_token_cache::digest_of(std::string_view token) {
  return crypto::sha256(token);
}

std::size_t verified_token_cache::index_of(const digest& key) const noexcept {
  std::uint64_t prefix = 0;
  std::memcpy(&prefix, key.data(), sizeof prefix);
  return static_cast<std::size_t>(prefix) & (slots_.size() - 1);
}

std::optional<principal> verified_token_cache::find(const digest& key, std::int64_t now) const {
  if (slots_.empty()) return std::nullopt;
  const std::size_t i = index_of(key);
  const std::lock_guard lock(stripe_of(i));
  const slot& s = slots_[i];
  if (!s.used || !crypto::constant_time_equal(s.key, key)) return std::nullopt;
  if (now < s.valid_from || now >= s.valid_until) return std::nullopt;
  return s.who;
}

void verified_token_cache::store(const digest& key, const principal& who, std::int64_t valid_from,
                                 std::int64_t valid_until) {
  if (slots_.empty()) return;
  const std::size_t i = index_of(key);
  const std::lock_guard lock(stripe_of(i));
  slot& s = slots_[i];
  s.key = key;
  s.used = true;
  s.who = who;
  s.valid_from = valid_from;
  s.valid_until = valid_until;
}

}  // namespace callsign::server
