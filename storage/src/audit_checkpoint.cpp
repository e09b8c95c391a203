#include "storage/audit_checkpoint.hpp"

#include <simdjson.h>

#include <array>

#include "big_endian.hpp"
#include "crypto/constant_time.hpp"
#include "crypto/hex.hpp"
#include "crypto/key_derivation.hpp"

namespace callsign::storage {
namespace {

constexpr std::array<std::string_view, 6> member_order = {"v", "seq", "entry_hash", "time", "key_version", "signature"};

error invalid(std::string message) {
  return make_error(error_kind::invalid_input, std::move(message));
}

}  // namespace

result<crypto::ed25519_signing_key> audit_checkpoint_key(const crypto::master_key& master) {
  crypto::derived_key seed = crypto::derive_key(master, audit_checkpoint_key_label, {});
  auto key = crypto::ed25519_signing_key::from_seed(seed);
  crypto::secure_wipe(seed);
  return key;
}

std::vector<std::uint8_t> audit_signed_message(std::string_view domain, std::uint64_t seq, const audit_hash& entry_hash) {
  std::string message(domain);
  append_be64(message, seq);
  std::vector<std::uint8_t> out(message.begin(), message.end());
  out.insert(out.end(), entry_hash.begin(), entry_hash.end());
  return out;
}

std::vector<std::uint8_t> audit_checkpoint_message(std::uint64_t seq, const audit_hash& entry_hash) {
  return audit_signed_message(audit_checkpoint_domain, seq, entry_hash);
}

result<audit_checkpoint> sign_audit_checkpoint(const crypto::ed25519_signing_key& key, std::uint32_t key_version,
                                               std::uint64_t seq, const audit_hash& entry_hash, std::int64_t time) {
  auto signature = key.sign(audit_checkpoint_message(seq, entry_hash));
  if (!signature) return signature.error();
  return audit_checkpoint{seq, entry_hash, time, key_version, *signature};
}

bool audit_checkpoint_signature_valid(const audit_checkpoint& checkpoint,
                                      const crypto::ed25519_public_key& public_key) {
  return crypto::ed25519_verify(public_key, audit_checkpoint_message(checkpoint.seq, checkpoint.entry_hash),
                                checkpoint.signature);
}

std::string encode_audit_checkpoint(const audit_checkpoint& c) {
  return "{\"v\":1,\"seq\":" + std::to_string(c.seq) + ",\"entry_hash\":\"" + crypto::hex_encode(c.entry_hash) +
         "\",\"time\":" + std::to_string(c.time) + ",\"key_version\":" + std::to_string(c.key_version) +
         ",\"signature\":\"" + crypto::hex_encode(c.signature) + "\"}";
}

result<audit_checkpoint> decode_audit_checkpoint(std::string_view stored) {
  thread_local simdjson::dom::parser parser;
  const simdjson::padded_string padded(stored);
  simdjson::dom::object object;
  if (parser.parse(padded).get_object().get(object) != simdjson::SUCCESS) {
    return invalid("audit checkpoint is not a JSON object");
  }
  audit_checkpoint c;
  std::size_t index = 0;
  for (const auto field : object) {
    if (index >= member_order.size() || field.key != member_order[index]) {
      return invalid("audit checkpoint members are not in the canonical order");
    }
    const std::string_view name = field.key;
    std::uint64_t number = 0;
    std::int64_t signed_number = 0;
    std::string_view text;
    if (name == "v") {
      if (field.value.get_uint64().get(number) != simdjson::SUCCESS || number != 1) {
        return invalid("audit checkpoint format version is not 1");
      }
    } else if (name == "seq") {
      if (field.value.get_uint64().get(c.seq) != simdjson::SUCCESS) return invalid("checkpoint 'seq' is not a number");
    } else if (name == "time") {
      if (field.value.get_int64().get(signed_number) != simdjson::SUCCESS)
        return invalid("checkpoint 'time' is not a number");
      c.time = signed_number;
    } else if (name == "key_version") {
      if (field.value.get_uint64().get(number) != simdjson::SUCCESS || number == 0 || number > UINT32_MAX) {
        return invalid("checkpoint 'key_version' is not a key version");
      }
      c.key_version = static_cast<std::uint32_t>(number);
    } else if (name == "entry_hash") {
      if (field.value.get_string().get(text) != simdjson::SUCCESS || !crypto::hex_decode_into(text, c.entry_hash)) {
        return invalid("checkpoint 'entry_hash' is not 64 hex characters");
      }
    } else {  // signature
      if (field.value.get_string().get(text) != simdjson::SUCCESS || !crypto::hex_decode_into(text, c.signature)) {
        return invalid("checkpoint 'signature' is not 128 hex characters");
      }
    }
    ++index;
  }
  if (index != member_order.size()) return invalid("audit checkpoint is missing members");
  return c;
}

}  // namespace callsign::storage
