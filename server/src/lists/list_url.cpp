#include "server/lists/list_url.hpp"

#include <arpa/inet.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cctype>
#include <vector>

#include "crypto/percent_coding.hpp"

namespace callsign::server {
namespace {

error bad_url(std::string_view why) {
  return make_error(error_kind::invalid_input, "not a usable http(s) URL: " + std::string(why));
}

bool is_ip(int family, const std::string& text) {
  unsigned char buffer[16];
  return ::inet_pton(family, text.c_str(), buffer) == 1;
}

bool is_dns_name(std::string_view host) {
  if (host.empty() || host.size() > 253 || host.front() == '.' || host.front() == '-') return false;
  return std::all_of(host.begin(), host.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '.' || c == '_';
  });
}

}  // namespace

std::string list_url::redacted() const {
  std::string out = https ? "https://" : "http://";
  out += host_header();
  out += target.substr(0, target.find('?'));
  return out;
}

std::string list_url::host_header() const {
  std::string out = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  if (port != (https ? 443 : 80)) {
    out.push_back(':');
    out += std::to_string(port);
  }
  return out;
}

std::string list_url::basic_authorization() const {
  if (user.empty() && password.empty()) return {};
  const std::string plain = user + ":" + password;
  std::vector<unsigned char> encoded(4 * ((plain.size() + 2) / 3) + 1);
  const int n = EVP_EncodeBlock(encoded.data(), reinterpret_cast<const unsigned char*>(plain.data()),
                                static_cast<int>(plain.size()));
  return "Basic " + std::string(reinterpret_cast<const char*>(encoded.data()), static_cast<std::size_t>(n));
}

result<list_url> parse_list_url(std::string_view text) {
  if (std::any_of(text.begin(), text.end(), [](char c) { return c <= ' ' || c == '\x7f'; })) {
    return bad_url("it contains a space or a control character");
  }
  list_url url;
  if (text.starts_with("https://")) {
    text.remove_prefix(8);
  } else if (text.starts_with("http://")) {
    url.https = false;
    text.remove_prefix(7);
  } else {
    return bad_url("the scheme must be https:// (or http://)");
  }
  if (const auto hash = text.find('#'); hash != std::string_view::npos) text = text.substr(0, hash);
  const auto authority_end = text.find_first_of("/?");
  std::string_view authority = text.substr(0, authority_end);
  const std::string_view rest = authority_end == std::string_view::npos ? std::string_view() : text.substr(authority_end);
  // Built by appending: GCC 12 at -O2 misreads "/" + std::string(rest) as an overlapping copy
  // (-Werror=restrict, a known false positive).
  url.target.clear();
  if (rest.empty() || rest.front() == '?') url.target.push_back('/');
  url.target.append(rest);

  if (const auto at = authority.rfind('@'); at != std::string_view::npos) {
    const std::string_view userinfo = authority.substr(0, at);
    authority.remove_prefix(at + 1);
    const auto colon = userinfo.find(':');
    auto user = crypto::percent_decode(userinfo.substr(0, colon));
    auto password = crypto::percent_decode(colon == std::string_view::npos ? "" : userinfo.substr(colon + 1));
    if (!user || !password) return bad_url("bad percent escape in the user information");
    url.user = std::move(user).value();
    url.password = std::move(password).value();
  }

  std::string_view port_text;
  if (authority.starts_with("[")) {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return bad_url("an IPv6 address lacks its ']'");
    url.host = std::string(authority.substr(1, close - 1));
    if (!is_ip(AF_INET6, url.host)) return bad_url("the bracketed host is not an IPv6 address");
    url.host_is_ip = true;
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty() && !after.starts_with(":")) return bad_url("unexpected text after the IPv6 address");
    if (!after.empty()) port_text = after.substr(1);
    if (after == ":") return bad_url("the port is empty");
  } else {
    const auto colon = authority.find(':');
    url.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = authority.substr(colon + 1);
      if (port_text.empty()) return bad_url("the port is empty");
    }
    if (url.host.empty()) return bad_url("there is no host");
    url.host_is_ip = is_ip(AF_INET, url.host);
    if (!url.host_is_ip && !is_dns_name(url.host)) return bad_url("the host is not a DNS name or an IP address");
    std::transform(url.host.begin(), url.host.end(), url.host.begin(),
                   [](char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); });
  }
  url.port = url.https ? 443 : 80;
  if (!port_text.empty()) {
    unsigned long port = 0;
    for (const char c : port_text) {
      if (c < '0' || c > '9' || port > 65535) return bad_url("the port is not a number from 1 to 65535");
      port = port * 10 + static_cast<unsigned long>(c - '0');
    }
    if (port == 0 || port > 65535) return bad_url("the port is not a number from 1 to 65535");
    url.port = static_cast<std::uint16_t>(port);
  }
  return url;
}

}  // namespace callsign::server
