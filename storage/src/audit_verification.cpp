// audit_journal::verify: one pass over the checkpoints, then one over the entries.
#include <algorithm>
#include <charconv>
#include <limits>
#include <map>
#include <optional>
#include <variant>

#include "crypto/hex.hpp"
#include "crypto/sha256.hpp"
#include "storage/audit_checkpoint.hpp"
#include "storage/audit_journal.hpp"
#include "storage/audit_retention.hpp"

namespace callsign::storage {
namespace {

std::string seq_text(std::uint64_t seq) {
  return std::to_string(seq);
}

// Public checkpoint keys by version, derived on first use.
class public_keys {
 public:
  explicit public_keys(const crypto::key_ring& ring) : ring_(ring) {}

  std::optional<crypto::ed25519_public_key> find(std::uint32_t version) {
    if (auto it = cache_.find(version); it != cache_.end()) return it->second;
    std::optional<crypto::ed25519_public_key> found;
    if (const crypto::master_key* master = ring_.find(version)) {
      if (auto key = audit_checkpoint_key(*master)) found = key->public_key();
    }
    cache_.emplace(version, found);
    return found;
  }

 private:
  const crypto::key_ring& ring_;
  std::map<std::uint32_t, std::optional<crypto::ed25519_public_key>> cache_;
};

// A stored checkpoint, or why it could not be read.
using loaded_checkpoint = std::variant<audit_checkpoint, std::string>;

class verifier {
 public:
  explicit verifier(const crypto::key_ring& ring) : keys_(ring) {}

  audit_verification report;

  bool fail(std::uint64_t seq, std::string reason) {
    report.intact = false;
    report.first_bad_seq = seq;
    report.reason = std::move(reason);
    return false;
  }

  void add_checkpoint(std::uint64_t seq, loaded_checkpoint checkpoint) {
    checkpoints_.emplace(seq, std::move(checkpoint));
  }

  // Signature and key checks of the checkpoint stored under `seq`; the entry hash is the caller's.
  bool check_checkpoint(std::uint64_t seq, const loaded_checkpoint& loaded) {
    if (const auto* why = std::get_if<std::string>(&loaded)) {
      return fail(seq, "checkpoint at seq " + seq_text(seq) + " does not parse (" + *why + ")");
    }
    const auto& c = std::get<audit_checkpoint>(loaded);
    if (c.seq != seq) return fail(seq, "checkpoint stored at seq " + seq_text(seq) + " names seq " + seq_text(c.seq));
    const auto key = keys_.find(c.key_version);
    if (!key) {
      return fail(seq, "checkpoint at seq " + seq_text(seq) + " is signed with key version " +
                           std::to_string(c.key_version) + ", which the key ring does not hold");
    }
    if (!audit_checkpoint_signature_valid(c, *key)) {
      return fail(seq, "checkpoint at seq " + seq_text(seq) + " has an invalid signature");
    }
    ++report.checkpoints;
    report.last_checkpoint_seq = seq;
    return true;
  }

  // A pruned head (docs/audit.md, "Retention"): the first entry is not 1, so the signed
  // checkpoint just before it must be stored and hold the hash its prev_hash names.
  bool on_pruned_head(std::uint64_t first) {
    const std::uint64_t anchor = first - 1;
    const auto it = checkpoints_.find(anchor);
    if (it == checkpoints_.end()) {
      return fail(1, "entries 1.." + seq_text(anchor) + " are missing, and no signed checkpoint at seq " +
                         seq_text(anchor) + " anchors entry " + seq_text(first));
    }
    if (!check_checkpoint(anchor, it->second)) return false;
    prev_hash_ = std::get<audit_checkpoint>(it->second).entry_hash;
    checked_hashes_.emplace(anchor, prev_hash_);
    checkpoints_.erase(it);
    report.pruned_through = anchor;
    report.last_seq = anchor;
    return true;
  }

  bool on_entry(std::string_view key, std::string_view value) {
    if (report.entries == 0 && report.pruned_through == 0) {
      const auto first = parse_audit_key(key);
      if (first && *first > 1 && !on_pruned_head(*first)) return false;
    }
    const std::uint64_t expected = report.last_seq + 1;
    const auto seq = parse_audit_key(key);
    if (!seq) return fail(expected, "an entry key after seq " + seq_text(report.last_seq) + " is malformed");
    if (*seq != expected) {
      return fail(expected, "entry " + seq_text(expected) + " is missing (the next entry is " + seq_text(*seq) + ")");
    }
    auto entry = decode_audit_entry(value);
    if (!entry) return fail(*seq, "entry " + seq_text(*seq) + " does not parse (" + entry.error().message + ")");
    if (entry->seq != *seq) {
      return fail(*seq, "entry stored at seq " + seq_text(*seq) + " names seq " + seq_text(entry->seq));
    }
    if (entry->prev_hash != crypto::hex_encode(prev_hash_)) {
      // The previous entry's bytes no longer hash to what this entry recorded: the earlier
      // one is named, since this entry's own hash is checked by its successor.
      if (*seq == 1) return fail(1, "entry 1 has a non-zero prev_hash");
      if (*seq == report.pruned_through + 1) {
        return fail(*seq, "entry " + seq_text(*seq) + " does not match the hash in the signed checkpoint at seq " +
                              seq_text(report.pruned_through) + " that anchors the pruned journal");
      }
      return fail(*seq - 1,
                  "entry " + seq_text(*seq - 1) + " does not match the prev_hash recorded by entry " + seq_text(*seq));
    }
    prev_hash_ = crypto::sha256(value);
    if (auto it = checkpoints_.find(*seq); it != checkpoints_.end()) {
      if (!check_checkpoint(*seq, it->second)) return false;
      if (std::get<audit_checkpoint>(it->second).entry_hash != prev_hash_) {
        return fail(*seq, "entry " + seq_text(*seq) + " does not match the hash in its signed checkpoint");
      }
      checked_hashes_.emplace(*seq, prev_hash_);
      checkpoints_.erase(it);
    }
    if (entry->action == audit_prune_action && entry->outcome == "ok") note_prune(*entry);
    report.last_seq = *seq;
    ++report.entries;
    return true;
  }

  // The horizon an audit.prune entry declares, when its signature holds (audit_retention.hpp):
  // an unsigned or forged declaration declares nothing.
  void note_prune(const audit_entry& entry) {
    std::optional<std::uint64_t> through;
    std::optional<std::uint32_t> version;
    audit_hash entry_hash{};
    crypto::ed25519_signature signature{};
    bool hash_ok = false;
    bool signature_ok = false;
    for (const auto& [key, value] : entry.details) {
      if (key == audit_prune_through_detail) {
        through = decimal(value);
      } else if (key == "key_version") {
        if (auto v = decimal(value); v && *v <= std::numeric_limits<std::uint32_t>::max()) {
          version = static_cast<std::uint32_t>(*v);
        }
      } else if (key == "entry_hash") {
        hash_ok = crypto::hex_decode_into(value, entry_hash).has_value();
      } else if (key == "signature") {
        signature_ok = crypto::hex_decode_into(value, signature).has_value();
      }
    }
    if (!through || !version || !hash_ok || !signature_ok) return;
    // At or past the anchor it must name a checkpoint of this journal (checked already: a
    // declaration follows its horizon), so one copied from another node's journal, which shares
    // the ring, declares nothing. Below the anchor it cannot be checked, and cannot cover the
    // pruned head either: it only names how far earlier prunes went.
    if (*through >= report.pruned_through) {
      const auto own = checked_hashes_.find(*through);
      if (own == checked_hashes_.end() || own->second != entry_hash) return;
    }
    const auto key = keys_.find(*version);
    if (!key || !crypto::ed25519_verify(*key, audit_prune_message(*through, entry_hash), signature)) return;
    declared_through_ = std::max(declared_through_, *through);
  }

  static std::optional<std::uint64_t> decimal(std::string_view text) {
    std::uint64_t value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
    return value;
  }

  // Checkpoints left over name entries past the end, or were stored under a bad key.
  void finish() {
    if (report.intact && report.pruned_through > declared_through_) {
      // Removed entries no audit.prune entry accounts for: deleted behind the journal's back.
      fail(1, "entries 1.." + seq_text(report.pruned_through) + " were removed, but no signed audit.prune entry declares " +
                  (declared_through_ == 0 ? "a pruning" : "more than seq " + seq_text(declared_through_)));
      return;
    }
    if (!report.intact || checkpoints_.empty()) return;
    const auto& [seq, loaded] = *checkpoints_.begin();
    if (seq <= report.last_seq) {  // only a checkpoint under seq 0 can get here
      fail(seq, "checkpoint stored at seq " + seq_text(seq) + " names no entry");
      return;
    }
    if (!check_checkpoint(seq, loaded)) return;
    fail(report.last_seq + 1, "tail truncated: the signed checkpoint at seq " + seq_text(seq) +
                                  " is beyond the last entry (seq " + seq_text(report.last_seq) + ")");
  }

 private:
  public_keys keys_;
  std::map<std::uint64_t, loaded_checkpoint> checkpoints_;
  audit_hash prev_hash_{};
  std::uint64_t declared_through_ = 0;  // the highest horizon an audit.prune entry declares
  std::map<std::uint64_t, audit_hash> checked_hashes_;  // entry hashes of the checkpoints passed
};

}  // namespace

result<audit_verification> audit_journal::verify(const crypto::key_ring& ring) const {
  verifier v(ring);
  // Checkpoints first: a checkpoint is written in the same batch as its entry, so the later
  // entry scan sees every entry the checkpoints name, even while the writer runs.
  std::optional<std::uint64_t> bad_checkpoint_key;
  auto scanned = db_->scan(column_family::audit_checkpoints, database::scan_direction::forward, {},
                           [&](std::string_view key, std::string_view value) {
                             const auto seq = parse_audit_key(key);
                             if (!seq) {
                               bad_checkpoint_key = 0;
                               return false;
                             }
                             auto checkpoint = decode_audit_checkpoint(value);
                             v.add_checkpoint(*seq, checkpoint ? loaded_checkpoint(*checkpoint)
                                                               : loaded_checkpoint(checkpoint.error().message));
                             return true;
                           });
  if (!scanned) return scanned.error();
  if (bad_checkpoint_key) {
    v.fail(0, "a checkpoint key is malformed");
    return v.report;
  }
  scanned = db_->scan(column_family::audit, database::scan_direction::forward, {},
                      [&](std::string_view key, std::string_view value) { return v.on_entry(key, value); });
  if (!scanned) return scanned.error();
  v.finish();
  return v.report;
}

}  // namespace callsign::storage
