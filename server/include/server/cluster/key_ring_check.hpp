// Every node of a cluster must hold the same master key ring (docs/cluster.md, "Key ring"): a
// node registers an identifier of each of its key versions in Redis and refuses to start when
// Redis already holds another identifier for one of them, or a newer version it lacks. The
// identifier is derived one way from the key (HMAC, 16 bytes), so Redis never learns a key.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "crypto/key_ring.hpp"
#include "crypto/result.hpp"

namespace callsign::server {

inline constexpr std::string_view key_ring_registry_key = "cs:keyring";

// version -> hex identifier.
using key_ring_ids = std::map<std::uint32_t, std::string>;

key_ring_ids key_ring_identifiers(const crypto::key_ring& ring);

// `registered` is what Redis held after this node added its own versions (HSETNX, so a version
// registered first by another node keeps that node's identifier). invalid_input, with a message
// naming the version, when the rings differ: a version with another key, or a version newer
// than this node's newest (this node missed a rotation).
result<void> compare_key_rings(const key_ring_ids& local, const key_ring_ids& registered);

}  // namespace callsign::server
