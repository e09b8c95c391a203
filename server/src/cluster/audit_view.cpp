#include "server/cluster/audit_view.hpp"

#include <charconv>
#include <limits>
#include <utility>

#include "crypto/hex.hpp"
#include "redis/client.hpp"
#include "server/http/json_writer.hpp"
#include "storage/user_store.hpp"

namespace callsign::server {
namespace {

constexpr std::string_view hash_member = ",\"hash\":\"";

std::optional<std::uint64_t> decimal(std::string_view text) {
  if (text.empty() || text.size() > 20) return std::nullopt;
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// "<ms>-<n>", both decimal and within 64 bits; nullopt for anything else.
std::optional<std::pair<std::uint64_t, std::uint64_t>> stream_id(std::string_view text) {
  const auto dash = text.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  const auto ms = decimal(text.substr(0, dash));
  const auto seq = decimal(text.substr(dash + 1));
  if (!ms || !seq) return std::nullopt;
  return std::pair{*ms, *seq};
}

// The API's JSON back to the stored bytes and the hash it names (audit_entry_json's inverse).
std::optional<std::pair<std::string, std::string>> split_entry_json(std::string_view json) {
  constexpr std::size_t hex_size = 64;
  const std::size_t tail = hash_member.size() + hex_size + 2;  // the member, `"` and `}`
  if (json.size() <= tail || json.substr(json.size() - 2) != "\"}") return std::nullopt;
  const std::size_t at = json.size() - tail;
  if (json.substr(at, hash_member.size()) != hash_member) return std::nullopt;
  std::string stored(json.substr(0, at));
  stored += '}';
  return std::pair{std::move(stored), std::string(json.substr(at + hash_member.size(), hex_size))};
}

// One item of a range reply: [id, [field, value, ...]].
std::optional<storage::audit_entry> item_entry(const redis::reply& item, std::string_view user) {
  if (item.type != redis::reply::kind::array || item.elements.size() != 2) return std::nullopt;
  const auto& fields = item.elements[1];
  if (fields.type != redis::reply::kind::array || fields.elements.size() % 2 != 0) return std::nullopt;
  const std::string* node = nullptr;
  const std::string* json = nullptr;
  for (std::size_t i = 0; i + 1 < fields.elements.size(); i += 2) {
    const auto& name = fields.elements[i].text;
    if (name == "node") node = &fields.elements[i + 1].text;
    if (name == "entry") json = &fields.elements[i + 1].text;
  }
  if (node == nullptr || json == nullptr) return std::nullopt;
  auto parts = split_entry_json(*json);
  if (!parts) return std::nullopt;
  auto entry = storage::decode_audit_entry(parts->first);
  if (!entry || entry->hash != parts->second || entry->subject != user || entry->node != *node) return std::nullopt;
  return std::move(*entry);
}

}  // namespace

std::string audit_stream_key(std::string_view user) {
  std::string key = "cs:{u:";
  key += user;
  key += "}:audit";
  return key;
}

std::string durable_entry_json(const storage::durable_audit_entry& entry) {
  std::string json = entry.stored;
  if (!json.empty()) json.pop_back();  // the closing brace
  json += hash_member;
  for (const std::uint8_t byte : entry.hash) crypto::append_hex_byte(json, byte);
  json += "\"}";
  return json;
}

std::optional<redis::command> audit_stream_append(const storage::durable_audit_entry& entry, std::string_view node) {
  if (node.empty() || !storage::valid_user_id(entry.subject)) return std::nullopt;
  return redis::command{"XADD",
                        audit_stream_key(entry.subject),
                        "MAXLEN",
                        "~",
                        std::to_string(audit_stream_max_entries),
                        "*",
                        "node",
                        std::string(node),
                        "seq",
                        std::to_string(entry.seq),
                        "entry",
                        durable_entry_json(entry)};
}

std::vector<redis::command> audit_stream_retention(std::string_view user, std::int64_t now_ms,
                                                   std::int64_t retention_seconds) {
  const std::int64_t retention_ms = retention_seconds * 1000;
  const std::int64_t oldest_kept = now_ms > retention_ms ? now_ms - retention_ms : 0;
  std::vector<redis::command> commands;
  commands.push_back(redis::command{"XTRIM", audit_stream_key(user), "MINID", "~", std::to_string(oldest_kept)});
  commands.push_back(redis::command{"PEXPIRE", audit_stream_key(user), std::to_string(retention_ms)});
  return commands;
}

bool valid_audit_cursor(std::string_view cursor) { return stream_id(cursor).has_value(); }

std::optional<redis::command> audit_stream_read(std::string_view user, audit_order order,
                                                const std::optional<std::string>& cursor, std::size_t count) {
  const bool newest = order == audit_order::newest_first;
  if (const auto id = cursor ? stream_id(*cursor) : std::nullopt) {  // the routes pass valid cursors only
    const std::uint64_t edge = newest ? 0 : std::numeric_limits<std::uint64_t>::max();
    if (id->first == edge && id->second == edge) return std::nullopt;
  }
  std::string from = cursor ? "(" + *cursor : std::string(newest ? "+" : "-");
  return redis::command{newest ? "XREVRANGE" : "XRANGE",
                        audit_stream_key(user),
                        std::move(from),
                        newest ? "-" : "+",
                        "COUNT",
                        std::to_string(count)};
}

result<audit_view_page> parse_audit_stream(const redis::reply& reply, std::string_view user, std::size_t count) {
  if (reply.type != redis::reply::kind::array) {
    return make_error(error_kind::internal, "unexpected reply to an audit stream read");
  }
  audit_view_page page;
  for (const auto& item : reply.elements) {
    if (auto entry = item_entry(item, user)) {
      page.entries.push_back(std::move(*entry));
    } else {
      ++page.skipped;
    }
  }
  // The cursor follows the items read, shown or skipped, so a bad item never stops the paging.
  if (reply.elements.size() == count && count > 0) {
    const auto& last = reply.elements.back();
    if (last.type == redis::reply::kind::array && !last.elements.empty() && valid_audit_cursor(last.elements[0].text)) {
      page.next_cursor = last.elements[0].text;
    }
  }
  return page;
}

std::string audit_view_page_json(const audit_view_page& page) {
  json_writer json;
  json.begin_object().key("entries").begin_array();
  for (const auto& entry : page.entries) json.raw(storage::audit_entry_json(entry));
  json.end_array().key("next_cursor");
  if (page.next_cursor) {
    json.value(*page.next_cursor);
  } else {
    json.null();
  }
  json.end_object();
  return std::move(json).str();
}

void audit_view::publish(std::vector<storage::durable_audit_entry> entries) {
  const std::lock_guard lock(mutex_);
  if (client_ == nullptr) return;
  for (const auto& entry : entries) {
    auto command = audit_stream_append(entry, node_);
    if (!command) continue;
    client_->send(std::move(*command));
    if (retention_seconds_ > 0) {
      for (auto& aging : audit_stream_retention(entry.subject, clock_->unix_ms(), retention_seconds_)) {
        client_->send(std::move(aging));
      }
    }
  }
}

void audit_view::attach(redis::client& client) {
  const std::lock_guard lock(mutex_);
  client_ = &client;
}

void audit_view::detach() {
  const std::lock_guard lock(mutex_);
  client_ = nullptr;
}

void audit_view::read(std::string_view user, audit_order order, const std::optional<std::string>& cursor,
                      std::size_t count, storage::completion<audit_view_page> done) const {
  auto command = audit_stream_read(user, order, cursor, count);
  if (!command) {
    done(audit_view_page{});  // the cursor is the stream's very end that way: an empty last page
    return;
  }
  std::unique_lock lock(mutex_);
  if (client_ == nullptr) {
    lock.unlock();
    done(make_error(error_kind::unavailable, "the cross-node audit view needs shared state (Redis)"));
    return;
  }
  client_->exec({std::move(*command)},
                [user = std::string(user), count, done = std::move(done)](result<std::vector<redis::reply>> replies) {
                  if (!replies) {
                    done(replies.error());
                    return;
                  }
                  if (replies->size() != 1 || replies->front().is_error()) {
                    done(make_error(error_kind::unavailable, "Redis refused the audit stream read"));
                    return;
                  }
                  done(parse_audit_stream(replies->front(), user, count));
                });
}

}  // namespace callsign::server
