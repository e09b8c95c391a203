// Signed audit checkpoints: every N entries or T seconds the writer signs (seq, entry hash)
// with an Ed25519 key derived from the master key ring, so a removed tail of the journal is
// detectable (a checkpoint then names an entry that no longer exists). See docs/audit.md.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/ed25519.hpp"
#include "crypto/key_ring.hpp"
#include "crypto/result.hpp"
#include "storage/audit_entry.hpp"

namespace callsign::storage {

// derive_key(master_v, this label, {}) is the Ed25519 seed of key version v.
inline constexpr std::string_view audit_checkpoint_key_label = "callsign audit-checkpoint";
// Prefix of every signed message, so these signatures mean nothing in any other protocol.
inline constexpr std::string_view audit_checkpoint_domain = "callsign audit checkpoint";

// Plain value; safe to copy between threads.
struct audit_checkpoint {
  std::uint64_t seq = 0;
  audit_hash entry_hash{};  // SHA-256 of the stored bytes of entry `seq`
  std::int64_t time = 0;    // unix seconds when it was signed
  std::uint32_t key_version = 0;
  crypto::ed25519_signature signature{};
};

// The checkpoint signing key of one master key version. The derived seed is wiped.
result<crypto::ed25519_signing_key> audit_checkpoint_key(const crypto::master_key& master);

// `domain` || be64(seq) || entry_hash: what a journal signature covers (a checkpoint's, an
// audit.prune declaration's); the domain keeps one from passing for the other.
std::vector<std::uint8_t> audit_signed_message(std::string_view domain, std::uint64_t seq, const audit_hash& entry_hash);

// "callsign audit checkpoint" || be64(seq) || entry_hash: what the signature covers.
std::vector<std::uint8_t> audit_checkpoint_message(std::uint64_t seq, const audit_hash& entry_hash);

result<audit_checkpoint> sign_audit_checkpoint(const crypto::ed25519_signing_key& key, std::uint32_t key_version,
                                               std::uint64_t seq, const audit_hash& entry_hash, std::int64_t time);

// True when the signature verifies under `public_key` (the caller picks it by key_version).
bool audit_checkpoint_signature_valid(const audit_checkpoint& checkpoint, const crypto::ed25519_public_key& public_key);

// Stored at column_family::audit_checkpoints, key audit_key(seq): compact JSON
// {"v":1,"seq":..,"entry_hash":"hex","time":..,"key_version":..,"signature":"hex"}.
std::string encode_audit_checkpoint(const audit_checkpoint& checkpoint);
result<audit_checkpoint> decode_audit_checkpoint(std::string_view stored);

}  // namespace callsign::storage
