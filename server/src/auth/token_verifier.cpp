#include "server/auth/token_verifier.hpp"

#include <jwt.h>

#include <limits>
#include <optional>
#include <utility>

#include "base64url.hpp"
#include "crypto/constant_time.hpp"
#include "crypto/hmac_key.hpp"
#include "jwt_json.hpp"
#include "server/auth/verified_token_cache.hpp"

namespace callsign::server {

struct token_verifier::state {
  std::string issuer;
  std::string audience;
  std::int64_t leeway = 0;
  verification_keys keys;
  std::optional<crypto::hmac_key> hs256;  // over keys.hs256_secret, for the constant-time check
  std::unique_ptr<verified_token_cache> cache;
};

namespace {

struct jwt_deleter {
  void operator()(jwt_t* jwt) const noexcept { jwt_free(jwt); }
};

error refuse(std::string reason) {
  return make_error(error_kind::unauthorized, std::move(reason));
}

std::span<const std::uint8_t> as_bytes(std::string_view text) noexcept {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

std::int64_t saturating_add(std::int64_t a, std::int64_t b) noexcept {
  std::int64_t sum = 0;
  if (__builtin_add_overflow(a, b, &sum)) {
    return b > 0 ? std::numeric_limits<std::int64_t>::max() : std::numeric_limits<std::int64_t>::min();
  }
  return sum;
}

bool names_audience(const std::vector<std::string>& audiences, std::string_view expected) {
  for (const auto& audience : audiences) {
    if (audience == expected) return true;
  }
  return false;
}

// The key a header algorithm may be checked with. Only these three pairings exist, so a
// token can never make us use the RSA/EC PEM text as an HMAC secret or accept "none".
struct selected_key {
  jwt_alg_t alg = JWT_ALG_INVAL;
  std::string_view key;
};

std::optional<selected_key> select_key(std::string_view alg, const verification_keys& keys) {
  if (alg == "HS256" && !keys.hs256_secret.empty()) return selected_key{JWT_ALG_HS256, keys.hs256_secret};
  if (alg == "ES256" && !keys.es256_public_pem.empty()) return selected_key{JWT_ALG_ES256, keys.es256_public_pem};
  if (alg == "RS256" && !keys.rs256_public_pem.empty()) return selected_key{JWT_ALG_RS256, keys.rs256_public_pem};
  return std::nullopt;
}

// libjwt checks the signature (and parses both halves itself). Its algorithm must be the one
// our own header reading chose, or the two readers disagree and the token is refused.
bool libjwt_accepts(std::string_view token, const selected_key& selected) {
  std::string text(token);  // libjwt wants a NUL-terminated string
  jwt_t* raw = nullptr;
  const int status = jwt_decode(&raw, text.c_str(), reinterpret_cast<const unsigned char*>(selected.key.data()),
                                static_cast<int>(selected.key.size()));
  const std::unique_ptr<jwt_t, jwt_deleter> decoded(raw);
  crypto::secure_wipe(text);
  return status == 0 && decoded && jwt_get_alg(decoded.get()) == selected.alg;
}

}  // namespace

result<token_verifier> token_verifier::create(const auth_config& config, verification_keys keys) {
  if (keys.hs256_secret.empty() && keys.es256_public_pem.empty() && keys.rs256_public_pem.empty()) {
    return make_error(error_kind::invalid_input, "no token verification key is configured");
  }
  auto s = std::make_unique<state>();
  if (!keys.hs256_secret.empty()) {
    if (keys.hs256_secret.size() < min_hs256_key_size || keys.hs256_secret.size() > max_hs256_key_size) {
      return make_error(error_kind::invalid_input, "the HS256 key must be 32 to 4096 bytes");
    }
    auto mac = crypto::hmac_key::create(crypto::hash_algorithm::sha256, as_bytes(keys.hs256_secret));
    if (!mac) return mac.error();
    s->hs256.emplace(std::move(mac).value());
  }
  if (!keys.es256_public_pem.empty()) {
    if (auto checked = check_es256_public_key(keys.es256_public_pem); !checked) {
      return make_error(checked.error().kind, "ES256 key " + checked.error().message);
    }
  }
  if (!keys.rs256_public_pem.empty()) {
    if (auto checked = check_rs256_public_key(keys.rs256_public_pem); !checked) {
      return make_error(checked.error().kind, "RS256 key " + checked.error().message);
    }
  }
  s->issuer = config.issuer;
  s->audience = config.audience;
  s->leeway = config.leeway_seconds;
  s->keys = std::move(keys);
  s->cache = std::make_unique<verified_token_cache>(config.token_cache_entries);
  return token_verifier(std::move(s));
}

result<token_verifier> token_verifier::load(const auth_config& config, const std::filesystem::path& data_dir,
                                            bool dev_mode) {
  auto keys = load_verification_keys(config, data_dir, dev_mode);
  if (!keys) return keys.error();
  return create(config, std::move(keys).value());
}

token_verifier::token_verifier(std::unique_ptr<state> s) noexcept : state_(std::move(s)) {}
token_verifier::token_verifier(token_verifier&&) noexcept = default;
token_verifier& token_verifier::operator=(token_verifier&&) noexcept = default;
token_verifier::~token_verifier() = default;

std::vector<std::string_view> token_verifier::algorithms() const {
  std::vector<std::string_view> names;
  if (!state_) return names;
  if (!state_->keys.hs256_secret.empty()) names.emplace_back("HS256");
  if (!state_->keys.es256_public_pem.empty()) names.emplace_back("ES256");
  if (!state_->keys.rs256_public_pem.empty()) names.emplace_back("RS256");
  return names;
}

result<principal> token_verifier::verify(std::string_view token, std::int64_t now) const {
  if (!state_) return refuse("no token is accepted");
  if (token.empty() || token.size() > max_token_size) return refuse("bearer token is malformed");
  const std::size_t first_dot = token.find('.');
  const std::size_t second_dot = first_dot == std::string_view::npos ? first_dot : token.find('.', first_dot + 1);
  if (second_dot == std::string_view::npos || token.find('.', second_dot + 1) != std::string_view::npos) {
    return refuse("bearer token is malformed");  // also JWE (five parts) and JSON serialisation
  }
  const std::string_view header_part = token.substr(0, first_dot);
  const std::string_view payload_part = token.substr(first_dot + 1, second_dot - first_dot - 1);
  const std::string_view signature_part = token.substr(second_dot + 1);

  // 0. A token that passed every check below before, and whose time window still holds.
  const auto digest = verified_token_cache::digest_of(token);
  if (auto known = state_->cache->find(digest, now)) return std::move(*known);

  // 1. The algorithm, from our own reading of the header, before any key is touched.
  const auto header_json = auth_detail::base64url_decode(header_part);
  if (!header_json) return refuse("bearer token is malformed");
  const auto header = auth_detail::parse_jose_header(*header_json);
  if (!header) return refuse("bearer token is malformed");
  const auto selected = select_key(header->alg, state_->keys);
  if (!selected) return refuse("token algorithm is not accepted");

  // 2. The signature.
  const auto signature = auth_detail::base64url_decode(signature_part);
  if (!signature || signature->empty()) return refuse("token signature is invalid");
  if (selected->alg == JWT_ALG_HS256) {
    // libjwt compares HMACs with strcmp; compare in constant time first so timing never
    // tells an attacker how much of a forged signature was right.
    const crypto::hmac_digest expected = state_->hs256->sign(as_bytes(token.substr(0, second_dot)));
    if (!crypto::constant_time_equal(expected.view(), as_bytes(*signature))) {
      return refuse("token signature is invalid");
    }
  }
  if (!libjwt_accepts(token, *selected)) {
    // HS256's signature was checked above, so libjwt refused the payload (an exp past 2^63, a
    // NUL in a claim); for ES256/RS256 it also checks the signature.
    return refuse(selected->alg == JWT_ALG_HS256 ? "token claims are malformed" : "token signature is invalid");
  }

  // 3. The claims, from the signed payload as we read it.
  const auto payload_json = auth_detail::base64url_decode(payload_part);
  if (!payload_json) return refuse("bearer token is malformed");
  const auto claims = auth_detail::parse_jwt_claims(*payload_json);
  if (!claims) return refuse("token claims are malformed");
  const std::int64_t leeway = state_->leeway;
  if (!claims->exp) return refuse("token has no expiry");
  if (now - leeway >= *claims->exp) return refuse("token has expired");  // RFC 7519: invalid on or after exp
  if (claims->nbf && now + leeway < *claims->nbf) return refuse("token is not valid yet");
  if (!claims->iss || *claims->iss != state_->issuer) return refuse("token issuer is not accepted");
  if (!names_audience(claims->aud, state_->audience)) return refuse("token audience is not accepted");
  if (!claims->sub || !valid_subject(*claims->sub)) return refuse("token subject is missing or invalid");
  const auto parsed_role = claims->role ? parse_role(*claims->role) : std::nullopt;
  if (!parsed_role) return refuse("token role is missing or unknown");
  // The same window as the exp and nbf checks above: valid from nbf - leeway, until exp + leeway.
  principal who{*parsed_role, *claims->sub, saturating_add(*claims->exp, leeway)};
  const std::int64_t valid_from =
      claims->nbf ? saturating_add(*claims->nbf, -leeway) : std::numeric_limits<std::int64_t>::min();
  state_->cache->store(digest, who, valid_from, who.valid_until);
  return who;
}

}  // namespace callsign::server
