#include "server/http/query_string.hpp"

#include <algorithm>
#include <charconv>
#include <initializer_list>
#include <vector>

#include "crypto/percent_coding.hpp"

namespace callsign::server {

namespace {
template <class Fn>
void for_each_pair(std::string_view query, Fn&& fn) {
  std::size_t start = 0;
  while (start <= query.size()) {
    auto amp = query.find('&', start);
    auto part = query.substr(start, amp == std::string_view::npos ? std::string_view::npos : amp - start);
    if (!part.empty()) {
      auto eq = part.find('=');
      if (!fn(part.substr(0, eq), eq == std::string_view::npos ? std::string_view() : part.substr(eq + 1))) {
        return;
      }
    }
    if (amp == std::string_view::npos) {
      return;
    }
    start = amp + 1;
  }
}

// A parameter's name as the form encoding means it: "us%65r" is "user". Empty optional when
// the escapes are bad or the name holds NUL. Names without escapes, the usual case, are
// compared as they are.
std::optional<std::string> decoded_name(std::string_view raw) {
  if (raw.find_first_of("%+") == std::string_view::npos) return std::string(raw);
  auto decoded = crypto::percent_decode(raw, crypto::plus_sign::space);
  if (!decoded || decoded->find('\0') != std::string::npos) return std::nullopt;
  return std::move(*decoded);
}

error bad_name(std::string_view raw) {
  return make_error(error_kind::invalid_input, "query parameter name '" + std::string(raw.substr(0, 64)) +
                                                   "' is badly encoded");
}
}  // namespace

result<std::optional<std::string>> query_param(std::string_view query, std::string_view name) {
  std::optional<std::string_view> raw;
  bool repeated = false;
  std::optional<std::string_view> badly_named;
  for_each_pair(query, [&](std::string_view key, std::string_view value) {
    const auto decoded = decoded_name(key);
    if (!decoded) {
      badly_named = key;
      return false;
    }
    if (*decoded == name) {
      repeated = raw.has_value();
      raw = value;
      return !repeated;
    }
    return true;
  });
  if (badly_named) return bad_name(*badly_named);
  if (repeated) {
    // A proxy in front may read the first copy and callsignd another: refuse instead.
    return make_error(error_kind::invalid_input, "query parameter '" + std::string(name) + "' appears more than once");
  }
  if (!raw) {
    return std::optional<std::string>{};
  }
  auto decoded = crypto::percent_decode(*raw, crypto::plus_sign::space);
  if (!decoded) {
    return make_error(error_kind::invalid_input, "query parameter '" + std::string(name) + "' is badly encoded");
  }
  if (decoded->find('\0') != std::string::npos) {
    return make_error(error_kind::invalid_input, "query parameter '" + std::string(name) + "' must not contain NUL");
  }
  return std::optional<std::string>(std::move(*decoded));
}

result<std::optional<std::uint64_t>> query_uint(std::string_view query, std::string_view name, std::uint64_t lo,
                                                std::uint64_t hi) {
  auto text = query_param(query, name);
  if (!text) {
    return text.error();
  }
  if (!text->has_value()) {
    return std::optional<std::uint64_t>{};
  }
  const auto& s = **text;
  std::uint64_t value = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size() || value < lo || value > hi) {
    return make_error(error_kind::invalid_input, "query parameter '" + std::string(name) + "' must be a number from " +
                                                     std::to_string(lo) + " to " + std::to_string(hi));
  }
  return std::optional<std::uint64_t>(value);
}

result<void> query_only(std::string_view query, std::initializer_list<std::string_view> known) {
  std::optional<std::string> unknown;
  std::optional<std::string_view> badly_named;
  for_each_pair(query, [&](std::string_view key, std::string_view) {
    const auto decoded = decoded_name(key);
    if (!decoded) {
      badly_named = key;
      return false;
    }
    if (std::find(known.begin(), known.end(), *decoded) == known.end()) {
      unknown = std::string(key.substr(0, 64));
      return false;
    }
    return true;
  });
  if (badly_named) return bad_name(*badly_named);
  if (unknown) {
    return make_error(error_kind::invalid_input, "unknown query parameter '" + *unknown + "'");
  }
  return {};
}

result<void> query_names_declared(std::string_view query, std::span<const std::string> declared) {
  std::optional<error> refused;
  std::vector<std::string> seen;
  for_each_pair(query, [&](std::string_view key, std::string_view) {
    const auto decoded = decoded_name(key);
    if (!decoded) {
      refused = bad_name(key);
      return false;
    }
    if (std::find(declared.begin(), declared.end(), *decoded) == declared.end()) {
      refused = make_error(error_kind::invalid_input, "unknown query parameter '" + std::string(key.substr(0, 64)) + "'");
      return false;
    }
    if (std::find(seen.begin(), seen.end(), *decoded) != seen.end()) {
      refused = make_error(error_kind::invalid_input, "query parameter '" + *decoded + "' appears more than once");
      return false;
    }
    seen.push_back(*decoded);
    return true;
  });
  if (refused) return *refused;
  return {};
}

}  // namespace callsign::server
