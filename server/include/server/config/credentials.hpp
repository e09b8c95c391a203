// systemd credentials (LoadCredential=, LoadCredentialEncrypted=): secret files systemd hands the
// service in $CREDENTIALS_DIRECTORY, so the master key and the TLS key need not sit in the state
// directory (docs/operations.md, "Credentials").
#pragma once

#include <filesystem>
#include <string_view>

#include "crypto/result.hpp"
#include "server/config/config.hpp"

namespace callsign::server {

// A secret path written "credential:NAME" names the file NAME in $CREDENTIALS_DIRECTORY.
inline constexpr std::string_view credential_prefix = "credential:";

// Rewrites every "credential:NAME" among the secret paths (auth.hs256_key_file, tls.cert_file,
// tls.key_file, shared_state's password, CA, certificate and key files) to
// <credentials_directory>/NAME. Refuses such a value when credentials_directory is null or
// empty (not started with credentials) or NAME is not a plain file name. Pure: the caller passes
// getenv("CREDENTIALS_DIRECTORY").
result<void> resolve_credential_paths(server_config& cfg, const char* credentials_directory);

// Where the master key ring is read from. A credential named master.key wins; the ring is then
// only read, never created or rewritten. Otherwise <data_dir>/master.key, created on first start:
// when it is missing beside an existing database (<data_dir>/db/CURRENT), a not_found error
// instead, since a new ring could open none of that database's sealed secrets.
struct master_key_location {
  std::filesystem::path path;
  bool from_credentials = false;
};

// Refuses both a master.key credential and <data_dir>/master.key: two rings, one of which would
// silently be ignored.
result<master_key_location> locate_master_key(const server_config& cfg, const char* credentials_directory);

}  // namespace callsign::server
