// What POST /v1/login/check reads: one consistent, immutable view of the four lists. Copying
// a snapshot costs four shared_ptr copies; the lists it holds stay alive (and mapped) until
// the last snapshot naming them is gone, so a reload never pulls data from under a request.
#pragma once

#include <memory>
#include <string_view>

#include "crypto/credential_hash.hpp"
#include "storage/lists/device_set.hpp"
#include "storage/lists/hash_set_file.hpp"
#include "storage/lists/ip_set.hpp"

namespace callsign::server {

// Thread safety: immutable; every member function may be called concurrently.
struct list_snapshot {
  std::shared_ptr<const storage::ip_set> open_proxies;
  std::shared_ptr<const storage::device_set> managed_devices;
  std::shared_ptr<const storage::hash_set_file> exposed_credentials;
  // The hasher whose key id the credential set carries (null when no set is loaded).
  std::shared_ptr<const crypto::credential_hasher> credential_hasher;
  std::shared_ptr<const storage::hash_set_file> exposed_passwords;

  // An address that does not parse (storage::parse_ip_address) is never an open proxy.
  bool is_open_proxy(std::string_view ip) const;
  bool is_open_proxy(const storage::ip_address& ip) const noexcept;
  bool is_managed_device(std::string_view serial) const noexcept;
  // Hash in place, compare, wipe: neither value is copied anywhere that outlives the call
  // except the hasher's wiped scratch. The caller wipes its own buffers afterwards.
  bool exposed_credential(std::string_view username, std::string_view password) const;
  bool exposed_password(std::string_view password) const;
};

}  // namespace callsign::server
