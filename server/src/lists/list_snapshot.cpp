#include "server/lists/list_snapshot.hpp"

#include <algorithm>

#include "crypto/constant_time.hpp"
#include "crypto/sha1.hpp"
#include "storage/lists/ip_address.hpp"

namespace callsign::server {

bool list_snapshot::is_open_proxy(std::string_view ip) const {
  const auto address = storage::parse_ip_address(ip);
  return address && is_open_proxy(*address);
}

bool list_snapshot::is_open_proxy(const storage::ip_address& ip) const noexcept {
  return open_proxies && open_proxies->contains(ip);
}

bool list_snapshot::is_managed_device(std::string_view serial) const noexcept {
  return managed_devices && managed_devices->contains(serial);
}

bool list_snapshot::exposed_credential(std::string_view username, std::string_view password) const {
  if (!exposed_credentials || !credential_hasher) return false;
  crypto::credential_digest digest = credential_hasher->hash(username, password);
  const bool found = exposed_credentials->contains(digest);
  crypto::secure_wipe(digest);
  return found;
}

bool list_snapshot::exposed_password(std::string_view password) const {
  if (!exposed_passwords) return false;
  crypto::sha1_digest digest = crypto::sha1(password);
  std::array<std::uint8_t, 8> key{};
  std::copy_n(digest.begin(), key.size(), key.begin());
  const bool found = exposed_passwords->contains(key);
  crypto::secure_wipe(digest);
  crypto::secure_wipe(key);
  return found;
}

}  // namespace callsign::server
