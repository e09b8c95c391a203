#include "crypto/credential_hash.hpp"

#include <algorithm>
#include <new>

#include "crypto/constant_time.hpp"
#include "crypto/key_derivation.hpp"

namespace callsign::crypto {
namespace {

std::span<const std::uint8_t> as_bytes(std::string_view text) noexcept {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

bool is_ascii_space(char c) noexcept {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

hmac_key derive_credential_key(const master_key& master) {
  derived_key k = derive_key(master, exposed_credentials_label, {});
  auto created = hmac_key::create(hash_algorithm::sha256, k);
  secure_wipe(k);
  if (!created) throw std::bad_alloc();
  return std::move(created).value();
}

}  // namespace

std::string normalize_username(std::string_view username) {
  while (!username.empty() && is_ascii_space(username.front())) username.remove_prefix(1);
  while (!username.empty() && is_ascii_space(username.back())) username.remove_suffix(1);
  std::string out(username);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

credential_hasher::credential_hasher(const master_key& master)
    : key_(derive_credential_key(master)), master_version_(master.version) {
  constexpr std::string_view id_label = "key id";
  const hmac_digest id = key_.sign(as_bytes(id_label));
  std::copy_n(id.bytes.begin(), key_id_.size(), key_id_.begin());
}

credential_digest credential_hasher::hash(std::string_view username, std::string_view password) const {
  std::string normalized = normalize_username(username);
  constexpr std::uint8_t separator = 0x00;
  const hmac_digest mac = key_.sign({as_bytes(normalized), {&separator, 1}, as_bytes(password)});
  secure_wipe(normalized);
  credential_digest out{};
  std::copy_n(mac.bytes.begin(), out.size(), out.begin());
  return out;
}

}  // namespace callsign::crypto
