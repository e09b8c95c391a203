#include "server/cluster/key_ring_check.hpp"

#include "crypto/constant_time.hpp"
#include "crypto/hex.hpp"
#include "crypto/key_derivation.hpp"

namespace callsign::server {

key_ring_ids key_ring_identifiers(const crypto::key_ring& ring) {
  key_ring_ids ids;
  for (auto version : ring.versions()) {
    const auto* key = ring.find(version);
    auto derived = crypto::derive_key(*key, "callsign key-ring identifier", {});
    ids.emplace(version, crypto::hex_encode(std::span<const std::uint8_t>(derived.data(), 16)));
    crypto::secure_wipe(derived);
  }
  return ids;
}

result<void> compare_key_rings(const key_ring_ids& local, const key_ring_ids& registered) {
  std::uint32_t local_newest = local.empty() ? 0 : local.rbegin()->first;
  for (const auto& [version, id] : registered) {
    auto mine = local.find(version);
    if (mine != local.end() && mine->second != id) {
      return make_error(error_kind::invalid_input,
                        "master key version " + std::to_string(version) +
                            " of this node differs from the one the cluster registered in Redis; every node must "
                            "hold the same key ring (copy master.key from a running node; docs/cluster.md#key-ring)");
    }
    if (version > local_newest) {
      return make_error(error_kind::invalid_input,
                        "the cluster uses master key version " + std::to_string(version) +
                            ", which this node's key ring lacks; copy the rotated master.key from a running node "
                            "(docs/cluster.md#key-ring)");
    }
  }
  return {};
}

}  // namespace callsign::server
