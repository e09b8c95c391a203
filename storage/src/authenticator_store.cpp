#include "storage/authenticator_store.hpp"

#include <charconv>
#include <vector>

#include "crypto/hex.hpp"

namespace callsign::storage {

namespace {
constexpr std::string_view format_v1 = "a1";  // active, activated, pending, since
constexpr std::string_view format_v2 = "a2";  // version, then the same

std::string encode_blob(const std::optional<std::string>& blob) {
  if (!blob) {
    return "-";
  }
  return crypto::hex_encode(std::span(reinterpret_cast<const std::uint8_t*>(blob->data()), blob->size()));
}

bool decode_blob(std::string_view text, std::optional<std::string>& out) {
  if (text == "-") {
    out.reset();
    return true;
  }
  auto bytes = crypto::hex_decode(text);
  if (!bytes) {
    return false;
  }
  out = std::string(bytes->begin(), bytes->end());
  return true;
}

bool parse_i64(std::string_view text, std::int64_t& out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}
}  // namespace

std::string encode_authenticator(const authenticator_record& record, std::uint64_t version) {
  std::string out(format_v2);
  // Appended piece by piece: "literal" + std::string&& trips GCC 12's -Wrestrict at -O3.
  for (const std::string& part : {std::to_string(version), encode_blob(record.active_sealed), std::to_string(record.activated_at),
                                  encode_blob(record.pending_sealed), std::to_string(record.pending_since)}) {
    out += '\n';
    out += part;
  }
  return out;
}

result<authenticator_record> decode_authenticator(std::string_view bytes, std::uint64_t* version) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (parts.size() < 7) {
    auto nl = bytes.find('\n', start);
    parts.push_back(bytes.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start));
    if (nl == std::string_view::npos) {
      break;
    }
    start = nl + 1;
  }
  std::uint64_t stored_version = 1;
  if (parts.size() == 6 && parts[0] == format_v2) {
    auto [end, ec] = std::from_chars(parts[1].data(), parts[1].data() + parts[1].size(), stored_version);
    if (ec != std::errc() || end != parts[1].data() + parts[1].size() || stored_version == 0) {
      return make_error(error_kind::internal, "stored authenticator record is corrupt");
    }
    parts.erase(parts.begin() + 1);
    parts[0] = format_v1;
  }
  authenticator_record record;
  if (parts.size() != 5 || parts[0] != format_v1 || !decode_blob(parts[1], record.active_sealed) ||
      !parse_i64(parts[2], record.activated_at) || !decode_blob(parts[3], record.pending_sealed) ||
      !parse_i64(parts[4], record.pending_since)) {
    return make_error(error_kind::internal, "stored authenticator record is corrupt");
  }
  if (version != nullptr) {
    *version = stored_version;
  }
  return record;
}

result<authenticator_record> authenticator_store::find(std::string_view user_id) const {
  auto bytes = db_.get(column_family::authenticators, user_id);
  if (!bytes) {
    return bytes.error();
  }
  if (!bytes->has_value()) {
    return authenticator_record{};
  }
  return decode_authenticator(**bytes);
}

void authenticator_store::stage_put(std::string_view user_id, const authenticator_record& record,
                                    change_set& changes, std::uint64_t version) const {
  if (record.empty()) {
    changes.remove(column_family::authenticators, std::string(user_id));
  } else {
    changes.put(column_family::authenticators, std::string(user_id), encode_authenticator(record, version));
  }
}

void authenticator_store::stage_remove(std::string_view user_id, change_set& changes) const {
  changes.remove(column_family::authenticators, std::string(user_id));
}

}  // namespace callsign::storage
