#include "key_ring_source.hpp"

#include <cstdlib>

#include "server/config/credentials.hpp"
#include "storage/key_ring_file.hpp"

namespace callsign::cli {

result<key_ring_source> locate_key_ring(std::optional<std::string_view> master_key,
                                        const std::filesystem::path& data_dir, const char* credentials_directory) {
  if (master_key) {
    if (master_key->empty()) return make_error(error_kind::invalid_input, "--master-key needs a file name");
    return key_ring_source{std::filesystem::path(*master_key), key_ring_origin::option};
  }
  // callsignd's own rule, so both read the same ring (and both refuse two rings).
  server::server_config cfg;
  cfg.data_dir = data_dir;
  auto located = server::locate_master_key(cfg, credentials_directory);
  if (!located) return located.error();
  return key_ring_source{std::move(located->path),
                         located->from_credentials ? key_ring_origin::credential : key_ring_origin::data_dir};
}

result<key_ring_source> locate_key_ring(std::optional<std::string_view> master_key,
                                        const std::filesystem::path& data_dir) {
  return locate_key_ring(master_key, data_dir, std::getenv("CREDENTIALS_DIRECTORY"));
}

std::string describe(const key_ring_source& source) {
  switch (source.origin) {
    case key_ring_origin::option:
      return "--master-key " + source.path.string();
    case key_ring_origin::credential:
      return "the master.key credential " + source.path.string();
    case key_ring_origin::data_dir:
      break;
  }
  return source.path.string();
}

result<crypto::key_ring> load_key_ring(const key_ring_source& source) {
  auto ring = storage::load_key_ring(source.path);
  if (ring) return ring;
  if (ring.error().kind != error_kind::not_found) {
    // storage's messages already name the path; say where it came from too.
    if (source.origin == key_ring_origin::data_dir) return ring.error();
    return make_error(ring.error().kind,
                      ring.error().message + " (" +
                          (source.origin == key_ring_origin::option ? "--master-key" : "$CREDENTIALS_DIRECTORY") + ")");
  }
  if (source.origin == key_ring_origin::data_dir) {
    return make_error(error_kind::not_found,
                      "no master key at " + source.path.string() +
                          " (callsignd creates it on first start; with the ring in a "
                          "systemd credential, set $CREDENTIALS_DIRECTORY or pass --master-key)");
  }
  return make_error(error_kind::not_found, "no master key at " + describe(source));
}

}  // namespace callsign::cli
