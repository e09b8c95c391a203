#include "storage/audit_entry.hpp"

#include <simdjson.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <concepts>
#include <utility>
#include <vector>

#include "big_endian.hpp"
#include "crypto/hex.hpp"
#include "crypto/sha256.hpp"
#include "storage/json_text.hpp"

namespace callsign::storage {
namespace {

constexpr int format_version = 1;

// The stored member order; decode refuses any other, so each entry has one encoding. The
// optional "node" sits between "seq" and "time" (node_member_index).
constexpr std::array<std::string_view, 12> member_order = {
    "v",       "seq",     "time",      "actor_type", "actor_id", "action",
    "subject", "outcome", "source_ip", "request_id", "details",  "prev_hash",
};
constexpr std::size_t node_member_index = 2;

error invalid(std::string message) {
  return make_error(error_kind::invalid_input, std::move(message));
}

void append_member(std::string& out, std::string_view name, std::string_view value) {
  out.push_back(',');
  append_json_string(out, name);
  out.push_back(':');
  append_json_string(out, value);
}

void append_number(std::string& out, std::string_view prefix, std::integral auto value) {
  out += prefix;
  std::array<char, 24> digits{};
  const auto end = std::to_chars(digits.data(), digits.data() + digits.size(), value).ptr;
  out.append(digits.data(), end);
}

using audit_detail = std::pair<std::string, std::string>;
const audit_detail& detail_of(const audit_detail& d) { return d; }
const audit_detail& detail_of(const audit_detail* d) { return *d; }

// The members before "details", as views: an entry and a draft are encoded alike, and the
// writer encodes a draft without copying it into an audit_entry first.
struct entry_members {
  std::uint64_t seq = 0;
  std::string_view node;
  std::int64_t time = 0;
  std::string_view actor_type, actor_id, action, subject, outcome, source_ip, request_id;
};

// Everything but "prev_hash" and "hash", without the closing brace. `details` is sorted by key
// (audit_detail or pointers to them).
template <class Details>
void open_canonical_json(std::string& out, const entry_members& e, const Details& details) {
  static_assert(format_version >= 0 && format_version <= 9);
  out += "{\"v\":";
  out.push_back(static_cast<char>('0' + format_version));
  append_number(out, ",\"seq\":", e.seq);
  if (!e.node.empty()) append_member(out, "node", e.node);
  append_number(out, ",\"time\":", e.time);
  append_member(out, "actor_type", e.actor_type);
  append_member(out, "actor_id", e.actor_id);
  append_member(out, "action", e.action);
  append_member(out, "subject", e.subject);
  append_member(out, "outcome", e.outcome);
  append_member(out, "source_ip", e.source_ip);
  append_member(out, "request_id", e.request_id);
  out += ",\"details\":{";
  bool first = true;
  for (const auto& item : details) {
    const auto& [key, value] = detail_of(item);
    if (!first) out.push_back(',');
    first = false;
    append_json_string(out, key);
    out.push_back(':');
    append_json_string(out, value);
  }
  out.push_back('}');
}

bool is_lower_hex_hash(std::string_view text) {
  return text.size() == 64 &&
         std::all_of(text.begin(), text.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

result<std::string> read_string(simdjson::dom::element value, std::string_view name) {
  std::string_view text;
  if (value.get_string().get(text) != simdjson::SUCCESS)
    return invalid("member '" + std::string(name) + "' is not a string");
  return std::string(text);
}

}  // namespace

bool valid_audit_node_id(std::string_view node) {
  return !node.empty() && node.size() <= 64 && std::all_of(node.begin(), node.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
  });
}

result<void> validate_audit_draft(const audit_draft& draft) {
  if (draft.actor_type.empty()) return invalid("audit entry needs an actor_type");
  if (draft.action.empty()) return invalid("audit entry needs an action");
  for (const std::string* field : {&draft.actor_type, &draft.actor_id, &draft.action, &draft.subject, &draft.outcome,
                                   &draft.source_ip, &draft.request_id}) {
    if (field->size() > audit_field_max_bytes) return invalid("audit entry field is longer than 1024 bytes");
  }
  if (draft.subject.find('\0') != std::string::npos) return invalid("audit entry subject contains NUL");
  if (draft.details.size() > audit_details_max) return invalid("audit entry has more than 32 details");
  for (std::size_t i = 0; i < draft.details.size(); ++i) {
    const auto& [key, value] = draft.details[i];
    if (key.empty() || key.size() > audit_detail_key_max_bytes)
      return invalid("audit detail key must be 1 to 64 bytes");
    if (value.size() > audit_field_max_bytes) return invalid("audit detail value is longer than 1024 bytes");
    for (std::size_t j = 0; j < i; ++j) {
      if (draft.details[j].first == key) return invalid("audit detail key '" + key + "' is repeated");
    }
  }
  return {};
}

std::string encode_audit_entry(std::uint64_t seq, const audit_hash& prev_hash, const audit_draft& draft,
                               std::string_view node) {
  // Details sorted by key through pointers (stable: validated drafts have unique keys anyway).
  std::vector<const audit_detail*> details;
  details.reserve(draft.details.size());
  std::size_t size = 256;
  for (const auto& d : draft.details) {
    details.push_back(&d);
    size += d.first.size() + d.second.size() + 8;
  }
  std::stable_sort(details.begin(), details.end(), [](const auto* a, const auto* b) { return a->first < b->first; });
  for (const std::string* field : {&draft.actor_type, &draft.actor_id, &draft.action, &draft.subject, &draft.outcome,
                                   &draft.source_ip, &draft.request_id}) {
    size += field->size();
  }
  std::string out;
  out.reserve(size + node.size());
  open_canonical_json(out,
                      {seq, node, draft.time, draft.actor_type, draft.actor_id, draft.action, draft.subject,
                       draft.outcome, draft.source_ip, draft.request_id},
                      details);
  // The hex digits need no JSON escaping: the same bytes append_member would write.
  out += ",\"prev_hash\":\"";
  for (const std::uint8_t byte : prev_hash) crypto::append_hex_byte(out, byte);
  out += "\"}";
  return out;
}

result<audit_entry> decode_audit_entry(std::string_view stored) {
  // One parser per thread: queries and verification decode many entries in a row.
  thread_local simdjson::dom::parser parser;
  const simdjson::padded_string padded(stored);
  simdjson::dom::object object;
  if (parser.parse(padded).get_object().get(object) != simdjson::SUCCESS) {
    return invalid("audit entry is not a JSON object");
  }
  audit_entry e;
  std::size_t index = 0;
  for (const auto field : object) {
    const std::string_view name = field.key;
    const auto value = field.value;
    if (index == node_member_index && name == "node" && e.node.empty()) {
      auto text = read_string(value, name);
      if (!text) return text.error();
      if (!valid_audit_node_id(*text)) return invalid("member 'node' is not a node id");
      e.node = std::move(*text);
      continue;  // optional: does not advance the member order
    }
    if (index >= member_order.size() || name != member_order[index]) {
      return invalid("audit entry members are not in the canonical order");
    }
    if (name == "v") {
      std::uint64_t version = 0;
      if (value.get_uint64().get(version) != simdjson::SUCCESS || version != format_version) {
        return invalid("audit entry format version is not 1");
      }
    } else if (name == "seq") {
      if (value.get_uint64().get(e.seq) != simdjson::SUCCESS) return invalid("member 'seq' is not an unsigned integer");
    } else if (name == "time") {
      if (value.get_int64().get(e.time) != simdjson::SUCCESS) return invalid("member 'time' is not an integer");
    } else if (name == "details") {
      simdjson::dom::object details;
      if (value.get_object().get(details) != simdjson::SUCCESS) return invalid("member 'details' is not an object");
      for (const auto detail : details) {
        auto text = read_string(detail.value, "details");
        if (!text) return text.error();
        e.details.emplace_back(std::string(detail.key), std::move(*text));
      }
    } else {
      auto text = read_string(value, name);
      if (!text) return text.error();
      std::string* targets[] = {&e.actor_type, &e.actor_id,  &e.action,     &e.subject,
                                &e.outcome,    &e.source_ip, &e.request_id, &e.prev_hash};
      // Members 3..9 and 11 are the strings, in that order.
      const std::size_t slot = index == 11 ? 7 : index - 3;
      *targets[slot] = std::move(*text);
    }
    ++index;
  }
  if (index != member_order.size()) return invalid("audit entry is missing members");
  if (!is_lower_hex_hash(e.prev_hash)) return invalid("member 'prev_hash' is not 64 lower-case hex characters");
  e.hash = crypto::hex_encode(crypto::sha256(stored));
  return e;
}

std::string audit_entry_json(const audit_entry& entry) {
  std::string out;
  out.reserve(384);
  open_canonical_json(out,
                      {entry.seq, entry.node, entry.time, entry.actor_type, entry.actor_id, entry.action, entry.subject,
                       entry.outcome, entry.source_ip, entry.request_id},
                      entry.details);
  append_member(out, "prev_hash", entry.prev_hash);
  append_member(out, "hash", entry.hash);
  out.push_back('}');
  return out;
}

std::string audit_key(std::uint64_t seq) {
  std::string key;
  append_be64(key, seq);
  return key;
}

std::optional<std::uint64_t> parse_audit_key(std::string_view key) {
  if (key.size() != 8) return std::nullopt;
  return read_be64(key);
}

std::string audit_subject_prefix(std::string_view subject) {
  std::string prefix(subject);
  prefix.push_back('\0');
  return prefix;
}

std::string audit_subject_key(std::string_view subject, std::uint64_t seq) {
  std::string key;
  key.reserve(subject.size() + 9);
  key.append(subject).push_back('\0');
  append_be64(key, seq);
  return key;
}

audit_hash append_audit_records(std::uint64_t seq, const audit_hash& prev_hash, const audit_draft& draft,
                                std::vector<write_op>& ops, std::string_view node) {
  std::string value = encode_audit_entry(seq, prev_hash, draft, node);
  const audit_hash hash = crypto::sha256(value);
  ops.push_back({write_op::kind::put, column_family::audit, audit_key(seq), std::move(value)});
  if (!draft.subject.empty()) {
    ops.push_back({write_op::kind::put, column_family::audit_by_user, audit_subject_key(draft.subject, seq), {}});
  }
  return hash;
}

}  // namespace callsign::storage
