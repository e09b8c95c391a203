#include "crypto/key_ring.hpp"

#include <algorithm>
#include <charconv>
#include <limits>

#include "crypto/constant_time.hpp"
#include "crypto/hex.hpp"
#include "crypto/random_bytes.hpp"

namespace callsign::crypto {
namespace {

error line_error(std::size_t line_number, std::string_view problem) {
  return make_error(error_kind::invalid_input,
                    "key ring line " + std::to_string(line_number) + ": " + std::string(problem));
}

bool is_blank(char c) noexcept {
  return c == ' ' || c == '\t';
}

std::string_view trim(std::string_view text) noexcept {
  while (!text.empty() && is_blank(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_blank(text.back())) text.remove_suffix(1);
  return text;
}

result<master_key> random_master_key(std::uint32_t version, std::int64_t created_at) {
  master_key key;
  key.version = version;
  key.created_at = created_at;
  if (auto filled = random_bytes(key.bytes); !filled) return filled.error();
  return key;
}

}  // namespace

master_key::~master_key() {
  secure_wipe(bytes);
}

key_ring::key_ring(std::vector<master_key> keys) noexcept : keys_(std::move(keys)) {}

result<key_ring> key_ring::parse(std::string_view text) {
  std::vector<master_key> keys;
  std::size_t line_number = 0;
  while (!text.empty()) {
    ++line_number;
    const std::size_t newline = text.find('\n');
    std::string_view line = text.substr(0, newline);
    text.remove_prefix(newline == std::string_view::npos ? text.size() : newline + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    line = trim(line);
    if (line.empty() || line.front() == '#') continue;

    const std::size_t gap = std::min(line.find(' '), line.find('\t'));
    if (gap == std::string_view::npos) {
      return line_error(line_number, "expected '<version> <64 hex characters>'");
    }
    const std::string_view version_text = line.substr(0, gap);
    std::string_view hex_text = trim(line.substr(gap));
    std::string_view created_text;
    if (const std::size_t second_gap = std::min(hex_text.find(' '), hex_text.find('\t'));
        second_gap != std::string_view::npos) {
      created_text = trim(hex_text.substr(second_gap));
      hex_text = hex_text.substr(0, second_gap);
    }

    std::uint32_t version = 0;
    const auto [end, ec] = std::from_chars(version_text.data(), version_text.data() + version_text.size(), version);
    if (ec != std::errc{} || end != version_text.data() + version_text.size() || version == 0) {
      return line_error(line_number, "the version must be a whole number from 1 to 4294967295");
    }
    if (hex_text.size() != 2 * master_key::size) {
      return line_error(line_number, "the key must be exactly 64 hex characters");
    }
    master_key key;
    key.version = version;
    if (!hex_decode_into(hex_text, key.bytes)) {
      return line_error(line_number, "the key must be exactly 64 hex characters");
    }
    if (!created_text.empty()) {
      const auto [created_end, created_ec] =
          std::from_chars(created_text.data(), created_text.data() + created_text.size(), key.created_at);
      if (created_ec != std::errc{} || created_end != created_text.data() + created_text.size() ||
          key.created_at < 0) {
        return line_error(line_number, "the creation time must be whole unix seconds");
      }
    }
    const bool duplicate =
        std::any_of(keys.begin(), keys.end(), [&](const master_key& other) { return other.version == version; });
    if (duplicate) {
      return line_error(line_number, "version " + std::to_string(version) + " appears twice");
    }
    keys.push_back(key);
  }
  if (keys.empty()) return make_error(error_kind::invalid_input, "key ring holds no keys");
  std::sort(keys.begin(), keys.end(), [](const master_key& a, const master_key& b) { return a.version < b.version; });
  return key_ring(std::move(keys));
}

result<key_ring> key_ring::generate() {
  auto first = random_master_key(1, 0);
  if (!first) return first.error();
  std::vector<master_key> keys;
  keys.push_back(*first);
  return key_ring(std::move(keys));
}

std::string key_ring::serialize() const {
  std::string text =
      "# callsign master key ring: <version> <key as 64 hex characters> [<created, unix seconds>].\n"
      "# The highest version is current. Keep this file secret (mode 0600).\n";
  // Reserved up front so growth never leaves copies of key material in freed memory.
  text.reserve(text.size() + keys_.size() * (11 + 1 + 2 * master_key::size + 1 + 20 + 1));
  for (const master_key& key : keys_) {
    std::string hex = hex_encode(key.bytes);
    text += std::to_string(key.version);
    text += ' ';
    text += hex;
    if (key.created_at != 0) {
      text += ' ';
      text += std::to_string(key.created_at);
    }
    text += '\n';
    secure_wipe(hex);
  }
  return text;
}

result<key_ring> key_ring::rotated(std::int64_t created_at) const {
  if (keys_.empty()) return make_error(error_kind::internal, "key ring is empty");
  const std::uint32_t highest = keys_.back().version;
  if (highest == std::numeric_limits<std::uint32_t>::max()) {
    return make_error(error_kind::conflict, "key ring versions are exhausted");
  }
  auto next = random_master_key(highest + 1, created_at < 0 ? 0 : created_at);
  if (!next) return next.error();
  std::vector<master_key> keys;
  keys.reserve(keys_.size() + 1);
  keys = keys_;
  keys.push_back(*next);
  return key_ring(std::move(keys));
}

const master_key& key_ring::current() const noexcept {
  return keys_.back();
}

const master_key* key_ring::previous() const noexcept {
  return keys_.size() >= 2 ? &keys_[keys_.size() - 2] : nullptr;
}

const master_key* key_ring::find(std::uint32_t version) const noexcept {
  const auto it = std::lower_bound(keys_.begin(), keys_.end(), version,
                                   [](const master_key& key, std::uint32_t wanted) { return key.version < wanted; });
  return it != keys_.end() && it->version == version ? &*it : nullptr;
}

std::vector<std::uint32_t> key_ring::versions() const {
  std::vector<std::uint32_t> out;
  out.reserve(keys_.size());
  for (const master_key& key : keys_) out.push_back(key.version);
  return out;
}

}  // namespace callsign::crypto
