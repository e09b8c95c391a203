#include "cluster/checkpoint_record.hpp"

#include <simdjson.h>

#include <cstdint>

#include "crypto/hex.hpp"

namespace callsign::server {

// A node id needs no JSON escaping (a-z 0-9 . _ -).
std::string encode_checkpoint_record(std::string_view node, const storage::audit_checkpoint& c) {
  return "{\"node\":\"" + std::string(node) + "\",\"seq\":" + std::to_string(c.seq) + ",\"head\":\"" +
         crypto::hex_encode(c.entry_hash) + "\",\"key_version\":" + std::to_string(c.key_version) + ",\"sig\":\"" +
         crypto::hex_encode(c.signature) + "\",\"time\":" + std::to_string(c.time) + "}";
}

std::optional<storage::audit_checkpoint> parse_checkpoint_record(std::string_view node, std::string_view text) {
  thread_local simdjson::dom::parser parser;
  const simdjson::padded_string padded(text);
  simdjson::dom::object object;
  if (parser.parse(padded).get_object().get(object) != simdjson::SUCCESS) return std::nullopt;
  storage::audit_checkpoint c;
  std::string_view named, head, sig;
  std::uint64_t version = 0;
  if (object["node"].get_string().get(named) != simdjson::SUCCESS || named != node ||
      object["seq"].get_uint64().get(c.seq) != simdjson::SUCCESS || c.seq == 0 ||
      object["head"].get_string().get(head) != simdjson::SUCCESS || !crypto::hex_decode_into(head, c.entry_hash) ||
      object["key_version"].get_uint64().get(version) != simdjson::SUCCESS || version == 0 || version > UINT32_MAX ||
      object["sig"].get_string().get(sig) != simdjson::SUCCESS || !crypto::hex_decode_into(sig, c.signature) ||
      object["time"].get_int64().get(c.time) != simdjson::SUCCESS) {
    return std::nullopt;
  }
  c.key_version = static_cast<std::uint32_t>(version);
  return c;
}

}  // namespace callsign::server
