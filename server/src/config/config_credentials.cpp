#include <system_error>

#include "server/config/credentials.hpp"
#include "storage/key_ring_file.hpp"

namespace callsign::server {

namespace {

bool has_directory(const char* credentials_directory) {
  return credentials_directory != nullptr && *credentials_directory != '\0';
}

// One "credential:NAME" value. Errors name the key and the credential, never a file's content.
result<void> resolve_one(std::optional<std::filesystem::path>& value, std::string_view key,
                         const char* credentials_directory) {
  if (!value) return {};
  const std::string text = value->string();
  if (!std::string_view(text).starts_with(credential_prefix)) return {};
  const std::string name = text.substr(credential_prefix.size());
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos) {
    return make_error(error_kind::invalid_input, std::string(key) + " = \"" + text +
                                                     "\": a credential is a plain file name like credential:tls.key");
  }
  if (!has_directory(credentials_directory)) {
    return make_error(error_kind::invalid_input,
                      std::string(key) + " = \"" + text +
                          "\" needs $CREDENTIALS_DIRECTORY, which is not set (systemd LoadCredential=)");
  }
  value = std::filesystem::path(credentials_directory) / name;
  return {};
}

}  // namespace

result<void> resolve_credential_paths(server_config& cfg, const char* credentials_directory) {
  auto& shared = cfg.shared_state;
  const std::pair<std::optional<std::filesystem::path>*, std::string_view> secrets[] = {
      {&cfg.auth.hs256_key_file, "auth.hs256_key_file"},
      {&cfg.tls.cert_file, "tls.cert_file"},
      {&cfg.tls.key_file, "tls.key_file"},
      {&shared.password_file, "shared_state.password_file"},
      {&shared.sentinel_password_file, "shared_state.sentinel_password_file"},
      {&shared.tls_ca_file, "shared_state.tls_ca_file"},
      {&shared.tls_cert_file, "shared_state.tls_cert_file"},
      {&shared.tls_key_file, "shared_state.tls_key_file"},
  };
  for (const auto& [value, key] : secrets) {
    if (auto resolved = resolve_one(*value, key, credentials_directory); !resolved) return resolved.error();
  }
  return {};
}

namespace {

// The data dir's own ring: created on first start, but never beside a database that already
// exists. That database's sealed secrets and the journal's signed checkpoints need the ring it
// was written under; a new one would open none of them, so a lost ring is restored, not remade.
result<master_key_location> in_data_dir_ring(const server_config& cfg) {
  auto path = cfg.data_dir / storage::key_ring_file_name;
  std::error_code ec;
  if (!std::filesystem::exists(path, ec) && std::filesystem::exists(cfg.data_dir / "db" / "CURRENT", ec)) {
    return make_error(error_kind::not_found,
                      path.string() + " is missing, but " + (cfg.data_dir / "db").string() +
                          " holds a database written under a master key ring: restore master.key from a backup, "
                          "or give the ring as the master.key credential (docs/operations.md, \"Backup and restore\")");
  }
  return master_key_location{std::move(path), false};
}

}  // namespace

result<master_key_location> locate_master_key(const server_config& cfg, const char* credentials_directory) {
  const auto in_data_dir = cfg.data_dir / storage::key_ring_file_name;
  if (!has_directory(credentials_directory)) return in_data_dir_ring(cfg);
  auto credential = std::filesystem::path(credentials_directory) / storage::key_ring_file_name;
  std::error_code ec;
  if (!std::filesystem::exists(credential, ec)) return in_data_dir_ring(cfg);
  if (std::filesystem::exists(in_data_dir, ec)) {
    return make_error(error_kind::invalid_input, "both the master.key credential and " + in_data_dir.string() +
                                                     " exist; keep only one (docs/operations.md, \"Credentials\")");
  }
  return master_key_location{std::move(credential), true};
}

}  // namespace callsign::server
