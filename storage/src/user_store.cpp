#include "storage/user_store.hpp"

#include <charconv>
#include <vector>

namespace callsign::storage {

namespace {
constexpr std::string_view format_v1 = "u1";  // email, phone, created, updated
constexpr std::string_view format_v2 = "u2";  // version, then the same

std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (true) {
    auto nl = text.find('\n', start);
    if (nl == std::string_view::npos) {
      parts.push_back(text.substr(start));
      return parts;
    }
    parts.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
}

bool parse_i64(std::string_view text, std::int64_t& out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}
}  // namespace

bool valid_user_id(std::string_view id) noexcept {
  if (id.empty() || id.size() > 128) {
    return false;
  }
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '@' || c == ':' || c == '-';
    if (!ok) {
      return false;
    }
  }
  return true;
}

result<std::string> normalize_email(std::string_view email) {
  while (!email.empty() && (email.front() == ' ' || email.front() == '\t')) {
    email.remove_prefix(1);
  }
  while (!email.empty() && (email.back() == ' ' || email.back() == '\t')) {
    email.remove_suffix(1);
  }
  if (email.empty() || email.size() > 254) {
    return make_error(error_kind::invalid_input, "email must be 1 to 254 characters");
  }
  std::string out;
  out.reserve(email.size());
  for (char c : email) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f) {
      return make_error(error_kind::invalid_input, "email must not contain spaces or control characters");
    }
    out.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
  }
  auto at = out.find('@');
  if (at == std::string::npos || at == 0 || at + 1 >= out.size() || out.find('@', at + 1) != std::string::npos ||
      out.find('.', at + 1) == std::string::npos || out.back() == '.') {
    return make_error(error_kind::invalid_input, "email must look like name@example.com");
  }
  return out;
}

std::string encode_user(const user_record& user, std::uint64_t version) {
  std::string out(format_v2);
  for (const std::string& part : {std::to_string(version), user.email, std::string(user.phone_support ? "1" : "0"),
                                  std::to_string(user.created_at), std::to_string(user.updated_at)}) {
    out += '\n';
    out += part;
  }
  return out;
}

result<user_record> decode_user(std::string_view id, std::string_view bytes, std::uint64_t* version) {
  auto parts = split_lines(bytes);
  std::uint64_t stored_version = 1;
  if (parts.size() == 6 && parts[0] == format_v2) {
    auto [end, ec] = std::from_chars(parts[1].data(), parts[1].data() + parts[1].size(), stored_version);
    if (ec != std::errc() || end != parts[1].data() + parts[1].size() || stored_version == 0) {
      return make_error(error_kind::internal, "stored user record is corrupt");
    }
    parts.erase(parts.begin() + 1);
    parts[0] = format_v1;
  }
  user_record user;
  user.id = std::string(id);
  if (parts.size() != 5 || parts[0] != format_v1 || (parts[2] != "0" && parts[2] != "1") ||
      !parse_i64(parts[3], user.created_at) || !parse_i64(parts[4], user.updated_at)) {
    return make_error(error_kind::internal, "stored user record is corrupt");
  }
  user.email = std::string(parts[1]);
  user.phone_support = parts[2] == "1";
  if (version != nullptr) {
    *version = stored_version;
  }
  return user;
}

result<std::optional<user_record>> user_store::find(std::string_view id) const {
  auto bytes = db_.get(column_family::users, id);
  if (!bytes) {
    return bytes.error();
  }
  if (!bytes->has_value()) {
    return std::optional<user_record>{};
  }
  auto user = decode_user(id, **bytes);
  if (!user) {
    return user.error();
  }
  return std::optional<user_record>(std::move(user).value());
}

result<std::optional<user_record>> user_store::find_by_email(std::string_view normalized_email) const {
  auto id = db_.get(column_family::user_emails, normalized_email);
  if (!id) {
    return id.error();
  }
  if (!id->has_value()) {
    return std::optional<user_record>{};
  }
  return find(**id);
}

result<void> user_store::stage_upsert(const user_record& user, const std::optional<user_record>& previous,
                                      change_set& changes, std::uint64_t version) const {
  auto owner = db_.get(column_family::user_emails, user.email);
  if (!owner) {
    return owner.error();
  }
  if (owner->has_value() && **owner != user.id) {
    return make_error(error_kind::conflict, "that email belongs to another user");
  }
  if (previous && previous->email != user.email) {
    changes.remove(column_family::user_emails, previous->email);
  }
  changes.put(column_family::user_emails, user.email, user.id);
  changes.put(column_family::users, user.id, encode_user(user, version));
  return {};
}

result<void> user_store::stage_remove(const user_record& user, change_set& changes) const {
  auto owner = db_.get(column_family::user_emails, user.email);
  if (!owner) {
    return owner.error();
  }
  if (owner->has_value() && **owner == user.id) {
    changes.remove(column_family::user_emails, user.email);
  }
  changes.remove(column_family::users, user.id);
  return {};
}

result<user_page> user_store::list(std::string_view after, std::size_t limit) const {
  user_page page;
  std::optional<error> failed;
  auto scanned = db_.scan(column_family::users, database::scan_direction::forward, after,
                          [&](std::string_view key, std::string_view value) {
                            if (!after.empty() && key == after) {
                              return true;  // the cursor itself belongs to the previous page
                            }
                            if (page.users.size() == limit) {
                              // One more user exists: the page is full and has a successor.
                              if (!page.users.empty()) {
                                page.next_after = page.users.back().id;
                              }
                              return false;
                            }
                            auto user = decode_user(key, value);
                            if (!user) {
                              failed = user.error();
                              return false;
                            }
                            page.users.push_back(std::move(user).value());
                            return true;
                          });
  if (!scanned) {
    return scanned.error();
  }
  if (failed) {
    return *failed;
  }
  return page;
}

}  // namespace callsign::storage
