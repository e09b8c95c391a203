#include "server/http/json_body.hpp"

#include <openssl/crypto.h>
#include <simdjson.h>

#include <algorithm>
#include <cctype>
#include <vector>

namespace callsign::server {

struct json_body::state {
  simdjson::dom::parser parser;
  simdjson::dom::object object;
  std::string padded;  // owns the bytes `object` points into

  ~state() { OPENSSL_cleanse(padded.data(), padded.size()); }
};

namespace {
error bad(std::string message) { return make_error(error_kind::invalid_input, std::move(message)); }

// Parsers are reused per thread: a fresh simdjson parser allocates its buffers on first use,
// which was a few percent of a verify request's CPU. Buffers grown by a large body are not kept.
constexpr std::size_t pooled_per_thread = 4;
constexpr std::size_t max_pooled_bytes = 64 * 1024;
thread_local std::vector<std::unique_ptr<json_body::state>> idle_states;

std::unique_ptr<json_body::state> acquire_state() {
  if (idle_states.empty()) {
    return std::make_unique<json_body::state>();
  }
  auto s = std::move(idle_states.back());
  idle_states.pop_back();
  return s;
}

void release_state(std::unique_ptr<json_body::state> s) {
  if (!s) {
    return;
  }
  OPENSSL_cleanse(s->padded.data(), s->padded.size());
  s->padded.clear();
  s->object = simdjson::dom::object();
  if (idle_states.size() < pooled_per_thread && s->parser.capacity() <= max_pooled_bytes &&
      s->padded.capacity() <= max_pooled_bytes + simdjson::SIMDJSON_PADDING) {
    try {
      idle_states.push_back(std::move(s));
    } catch (...) {  // NOLINT(bugprone-empty-catch): out of memory: the state is simply freed
    }
  }
}

error wrong_type(std::string_view name, std::string_view type) {
  return bad("field '" + std::string(name) + "' must be " + std::string(type));
}
}  // namespace

bool is_json_content_type(const http_request& request) { return request.media_type() == "application/json"; }

result<json_body> json_body::parse(const http_request& request) {
  if (!is_json_content_type(request)) {
    return make_error(error_kind::unsupported_media_type, "Content-Type must be application/json");
  }
  if (request.body.empty()) {
    return bad("request body must be a JSON object");
  }
  return parse_text(request.body);
}

result<json_body> json_body::parse_text(std::string_view text) {
  auto s = acquire_state();
  s->padded.reserve(text.size() + simdjson::SIMDJSON_PADDING);
  s->padded = text;
  simdjson::dom::element root;
  auto err = s->parser.parse(s->padded.data(), s->padded.size(), true).get(root);
  if (err) {
    return bad("request body is not valid JSON");
  }
  if (root.get_object().get(s->object)) {
    return bad("request body must be a JSON object");
  }
  // A repeated member would be read as its first copy here and maybe its last by a WAF in front.
  std::vector<std::string_view> keys;
  keys.reserve(s->object.size());
  for (auto field : s->object) {
    keys.push_back(field.key);
  }
  std::sort(keys.begin(), keys.end());
  if (auto twice = std::adjacent_find(keys.begin(), keys.end()); twice != keys.end()) {
    return bad("field '" + std::string(twice->substr(0, 64)) + "' appears more than once");
  }
  return json_body(std::move(s));
}

json_body::json_body(std::unique_ptr<state> s) : state_(std::move(s)) {}
json_body::json_body(json_body&&) noexcept = default;
json_body& json_body::operator=(json_body&& other) noexcept {
  if (this != &other) {
    release_state(std::move(state_));
    state_ = std::move(other.state_);
  }
  return *this;
}
json_body::~json_body() { release_state(std::move(state_)); }

result<void> json_body::only(std::initializer_list<std::string_view> known) const {
  for (auto field : state_->object) {
    if (std::find(known.begin(), known.end(), field.key) == known.end()) {
      // Named only when it looks like one of our field names (lower-case letters and '_', no
      // digits): a member name is the client's own bytes, and one that holds a code or a
      // password (a mistaken client) must not be echoed.
      const auto key = field.key;
      const bool nameable = !key.empty() && key.size() <= 32 && key[0] >= 'a' && key[0] <= 'z' &&
                            std::all_of(key.begin(), key.end(),
                                        [](char c) { return (c >= 'a' && c <= 'z') || c == '_'; });
      return bad(nameable ? "unknown field '" + std::string(key) + "'" : std::string("unknown field"));
    }
  }
  return {};
}

result<std::optional<std::string>> json_body::optional_string(std::string_view name, std::size_t max_bytes) const {
  simdjson::dom::element value;
  if (state_->object.at_key(name).get(value)) {
    return std::optional<std::string>{};
  }
  if (value.is_null()) {
    return std::optional<std::string>{};
  }
  std::string_view text;
  if (value.get_string().get(text)) {
    return wrong_type(name, "a string");
  }
  if (text.size() > max_bytes) {
    return bad("field '" + std::string(name) + "' is longer than " + std::to_string(max_bytes) + " bytes");
  }
  if (text.find('\0') != std::string_view::npos) {
    // C APIs (inet_pton, file names) would stop at the NUL and read a different value.
    return bad("field '" + std::string(name) + "' must not contain a NUL character");
  }
  return std::optional<std::string>(std::string(text));
}

result<std::string> json_body::required_string(std::string_view name, std::size_t max_bytes) const {
  auto value = optional_string(name, max_bytes);
  if (!value) {
    return value.error();
  }
  if (!value->has_value()) {
    return bad("missing field '" + std::string(name) + "'");
  }
  return std::move(**value);
}

result<std::optional<bool>> json_body::optional_bool(std::string_view name) const {
  simdjson::dom::element value;
  if (state_->object.at_key(name).get(value) || value.is_null()) {
    return std::optional<bool>{};
  }
  bool flag = false;
  if (value.get_bool().get(flag)) {
    return wrong_type(name, "true or false");
  }
  return std::optional<bool>(flag);
}

result<bool> json_body::required_bool(std::string_view name) const {
  auto value = optional_bool(name);
  if (!value) {
    return value.error();
  }
  if (!value->has_value()) {
    return bad("missing field '" + std::string(name) + "'");
  }
  return **value;
}

result<std::optional<std::int64_t>> json_body::optional_integer(std::string_view name, std::int64_t lo,
                                                                 std::int64_t hi) const {
  simdjson::dom::element value;
  if (state_->object.at_key(name).get(value) || value.is_null()) {
    return std::optional<std::int64_t>{};
  }
  std::int64_t number = 0;
  if (value.get_int64().get(number) || number < lo || number > hi) {
    return wrong_type(name, "an integer from " + std::to_string(lo) + " to " + std::to_string(hi));
  }
  return std::optional<std::int64_t>(number);
}

result<std::optional<json_body>> json_body::optional_object(std::string_view name) const {
  simdjson::dom::element value;
  if (state_->object.at_key(name).get(value) || value.is_null()) {
    return std::optional<json_body>{};
  }
  if (!value.is_object()) return wrong_type(name, "an object");
  // Parsed again on its own: simple, and only admin routes nest objects.
  std::string text = simdjson::minify(value);
  auto nested = parse_text(text);
  OPENSSL_cleanse(text.data(), text.size());
  if (!nested) return bad("field '" + std::string(name) + "': " + nested.error().message);
  return std::optional<json_body>(std::move(*nested));
}

result<std::optional<std::vector<std::pair<std::string, std::string>>>> json_body::optional_string_map(
    std::string_view name, std::size_t max_members, std::size_t max_key_bytes, std::size_t max_value_bytes,
    bool fold_case) const {
  using members = std::vector<std::pair<std::string, std::string>>;
  simdjson::dom::element value;
  if (state_->object.at_key(name).get(value) || value.is_null()) {
    return std::optional<members>{};
  }
  simdjson::dom::object object;
  if (value.get_object().get(object)) return wrong_type(name, "an object of strings");
  members out;
  for (auto field : object) {
    if (out.size() == max_members) {
      return bad("field '" + std::string(name) + "' has more than " + std::to_string(max_members) + " members");
    }
    std::string_view text;
    if (field.value.get_string().get(text)) return wrong_type(name, "an object of strings");
    if (field.key.empty() || field.key.size() > max_key_bytes || text.size() > max_value_bytes ||
        field.key.find('\0') != std::string_view::npos || text.find('\0') != std::string_view::npos) {
      return bad("field '" + std::string(name) + "' has a member name or value that is empty, too long or holds NUL");
    }
    std::string key(field.key);
    if (fold_case) {
      std::transform(key.begin(), key.end(), key.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    }
    for (const auto& seen : out) {
      if (seen.first == key) return bad("field '" + std::string(name) + "' repeats a member");
    }
    out.emplace_back(std::move(key), std::string(text));
  }
  return std::optional<members>(std::move(out));
}

}  // namespace callsign::server
