// token_verifier (HS256 key + ES256 key) on arbitrary token strings (first byte even) and on
// tokens built from fields drawn from the input and signed here (first byte odd).
// Invariants: a built token is accepted exactly when an independent reading of its header,
// signature and claims says so: never alg "none" or any algorithm but HS256/ES256, never a
// wrong or missing signature, never an expired, not-yet-valid, foreign-issuer or
// foreign-audience token, never a bad subject or role. Any accepted token, built or not,
// passes that independent check, and the principal is exactly its sub and role.
#include <fuzzer/FuzzedDataProvider.h>
#include <simdjson.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "fuzz/fuzz_check.hpp"
#include "fuzz/jwt_signing.hpp"
#include "server/auth/token_verifier.hpp"
#include "server/http/json_writer.hpp"

using namespace callsign;
using namespace callsign::server;

namespace {
constexpr std::int64_t now = 1'700'000'000;
constexpr std::int64_t leeway = 30;
const std::string hs256_key = "fuzz-hs256-key-0123456789abcdef!";  // 32 bytes
const std::string other_key = "another-key-of-32-bytes-for-fuzz";

struct fixture {
  fuzz::ec_key ec;
  fuzz::ec_key other_ec;
  token_verifier verifier;

  static token_verifier make(const std::string& es256_pem) {
    verification_keys keys;
    keys.hs256_secret = hs256_key;
    keys.es256_public_pem = es256_pem;
    auth_config config;  // issuer and audience "callsign", leeway 30 s
    auto created = token_verifier::create(config, std::move(keys));
    FUZZ_CHECK(created.has_value());
    return std::move(created).value();
  }
  fixture() : verifier(make(ec.public_pem)) {}
};

fixture& keys() {
  static fixture f;
  return f;
}

bool valid_subject_bytes(std::string_view sub) {
  if (sub.empty() || sub.size() > 128) return false;
  for (char c : sub) {
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

bool known_role(std::string_view r) {
  return r == "customer" || r == "agent" || r == "service" || r == "admin";
}

// The independent reading: what must hold for `token` to be accepted at `now`.
struct verdict {
  bool accept = false;
  std::string sub;
  std::string role;
};

std::optional<std::int64_t> date_of(simdjson::dom::element value) {
  if (value.is_int64()) return value.get_int64().value_unsafe();
  if (value.is_uint64()) return INT64_MAX;
  if (value.is_double()) {
    const double d = value.get_double().value_unsafe();
    if (d >= 9.2e18) return INT64_MAX;
    if (d <= -9.2e18) return INT64_MIN;
    return static_cast<std::int64_t>(std::floor(d));
  }
  return std::nullopt;
}

verdict judge(std::string_view token) {
  verdict out;
  const auto first = token.find('.');
  const auto second = first == std::string_view::npos ? first : token.find('.', first + 1);
  if (second == std::string_view::npos || token.find('.', second + 1) != std::string_view::npos) return out;
  const auto header = fuzz::base64url_decode(token.substr(0, first));
  const auto payload = fuzz::base64url_decode(token.substr(first + 1, second - first - 1));
  const auto signature = fuzz::base64url_decode(token.substr(second + 1));
  if (!header || !payload || !signature) return out;

  simdjson::dom::parser header_parser;
  simdjson::dom::object header_object;
  if (header_parser.parse(*header).get_object().get(header_object)) return out;
  std::string_view alg;
  if (header_object["alg"].get_string().get(alg)) return out;
  simdjson::dom::element typ;
  if (!header_object["typ"].get(typ)) {
    std::string_view typ_text;
    if (typ.get_string().get(typ_text) || typ_text.size() != 3) return out;
    if ((typ_text[0] | 0x20) != 'j' || (typ_text[1] | 0x20) != 'w' || (typ_text[2] | 0x20) != 't') return out;
  }
  if (!header_object["crit"].get(typ)) return out;  // no critical extension is understood
  const std::string_view signed_part = token.substr(0, second);
  if (alg == "HS256") {
    if (fuzz::hmac_sha256(hs256_key, signed_part) != *signature) return out;
  } else if (alg == "ES256") {
    if (!keys().ec.verify(signed_part, *signature)) return out;
  } else {
    return out;  // "none", RS256 without a key, and everything else
  }

  simdjson::dom::parser claims_parser;
  simdjson::dom::object claims;
  if (claims_parser.parse(*payload).get_object().get(claims)) return out;
  simdjson::dom::element value;
  if (claims["exp"].get(value)) return out;
  const auto exp = date_of(value);
  if (!exp || now - leeway >= *exp) return out;
  if (!claims["nbf"].get(value)) {
    const auto nbf = date_of(value);
    if (!nbf || now + leeway < *nbf) return out;
  }
  std::string_view text;
  if (claims["iss"].get_string().get(text) || text != "callsign") return out;
  bool audience = false;
  if (claims["aud"].get(value)) return out;
  if (value.get_string().get(text) == simdjson::SUCCESS) {
    audience = text == "callsign";
  } else if (simdjson::dom::array list; value.get_array().get(list) == simdjson::SUCCESS) {
    for (auto item : list) {
      if (item.get_string().get(text) != simdjson::SUCCESS) return out;  // every member must be a string
      audience = audience || text == "callsign";
    }
  }
  if (!audience) return out;
  if (claims["sub"].get_string().get(text) || !valid_subject_bytes(text)) return out;
  out.sub = std::string(text);
  if (claims["role"].get_string().get(text) || !known_role(text)) return out;
  out.role = std::string(text);
  out.accept = true;
  return out;
}

void check_accepted(std::string_view token, const result<principal>& who) {
  if (!who) {
    FUZZ_CHECK(who.error().kind == error_kind::unauthorized);
    // Reasons are short fixed phrases without '.', so an input spelling one is no echo.
    FUZZ_CHECK(token.find('.') == std::string_view::npos || who.error().message.find(token) == std::string::npos);
    return;
  }
  const verdict expected = judge(token);
  FUZZ_CHECK(expected.accept);
  FUZZ_CHECK(who->subject == expected.sub);
  FUZZ_CHECK(role_name(who->role) == expected.role);
}

// A string member value from the input: one of the interesting fixed ones, or free text.
std::string pick_text(FuzzedDataProvider& in, std::initializer_list<const char*> fixed) {
  const auto index = in.ConsumeIntegralInRange<std::size_t>(0, fixed.size());
  if (index < fixed.size()) return *(fixed.begin() + index);
  std::string text = in.ConsumeRandomLengthString(40);
  for (char& c : text) {
    if (c == '\0') c = '0';  // libjwt's JSON reader refuses NUL in strings; keep both readers agreeing
  }
  return text;
}

std::string build_token(FuzzedDataProvider& in) {
  json_writer header;
  header.begin_object();
  const std::string alg = pick_text(in, {"HS256", "ES256", "none", "RS256", "HS512", "hs256", "ES384", ""});
  header.field("alg", std::string_view(alg));
  switch (in.ConsumeIntegralInRange(0, 4)) {
    case 0:
      header.field("typ", "JWT");
      break;
    case 1:
      header.field("typ", "jwt");
      break;
    case 2:
      header.field("typ", std::string_view(pick_text(in, {"JWS", "at+jwt"})));
      break;
    case 3:
      header.field("kid", std::string_view(pick_text(in, {"k1"})));
      break;
    default:
      break;
  }
  if (in.ConsumeIntegralInRange(0, 15) == 0) header.key("crit").begin_array().value("exp").end_array();
  header.end_object();

  json_writer claims;
  claims.begin_object();
  const auto date = [&](std::string_view name) {
    switch (in.ConsumeIntegralInRange(0, 4)) {
      case 0:
        return;  // absent
      case 1:
        claims.field(name, now + in.ConsumeIntegralInRange<std::int64_t>(-3 * leeway, 3 * leeway));
        return;
      case 2:
        claims.field(name, static_cast<double>(now + in.ConsumeIntegralInRange(-100, 100)) + 0.5);
        return;
      case 3:
        claims.field(name, std::string_view("1700000000"));
        return;  // a string is not a NumericDate
      default:
        claims.field(name, now + in.ConsumeIntegralInRange<std::int64_t>(-1'000'000, 1'000'000));
        return;
    }
  };
  date("exp");
  if (in.ConsumeBool()) date("nbf");
  if (in.ConsumeIntegralInRange(0, 7) != 0) {
    claims.field("iss", std::string_view(pick_text(in, {"callsign", "callsign ", "Callsign", ""})));
  }
  switch (in.ConsumeIntegralInRange(0, 4)) {
    case 0:
      claims.field("aud", std::string_view(pick_text(in, {"callsign", "other"})));
      break;
    case 1:
      claims.key("aud").begin_array().value(std::string_view(pick_text(in, {"other", "callsign"})));
      if (in.ConsumeBool()) claims.value("callsign");
      claims.end_array();
      break;
    case 2:
      claims.key("aud").begin_array().value("callsign").value(std::int64_t{7}).end_array();
      break;
    case 3:
      break;  // absent
    default:
      claims.field("aud", "callsign");
      break;
  }
  if (in.ConsumeIntegralInRange(0, 7) != 0) {
    claims.field("sub", std::string_view(pick_text(in, {"agent-7", "u1", "", "with space"})));
  }
  if (in.ConsumeIntegralInRange(0, 7) != 0) {
    claims.field("role", std::string_view(pick_text(in, {"customer", "agent", "service", "admin", "Admin", "root"})));
  }
  // Sometimes a second copy of a member (or a first one, when it was left out above).
  if (in.ConsumeIntegralInRange(0, 15) == 0)
    claims.field(in.PickValueInArray({"exp", "role", "sub", "aud", "iss", "nbf"}), "admin");
  if (in.ConsumeBool()) claims.field("jti", std::string_view(pick_text(in, {"x"})));
  claims.end_object();

  const std::string signing_input = fuzz::base64url(header.str()) + "." + fuzz::base64url(claims.str());
  std::string signature;
  switch (in.ConsumeIntegralInRange(0, 6)) {
    case 0:
      signature = fuzz::hmac_sha256(other_key, signing_input);
      break;
    case 1:
      signature = keys().other_ec.sign(signing_input);
      break;
    case 2:
      signature = fuzz::hmac_sha256(keys().ec.public_pem, signing_input);
      break;  // key confusion
    case 3:
      break;  // empty
    default:
      signature = alg == "ES256" ? keys().ec.sign(signing_input) : fuzz::hmac_sha256(hs256_key, signing_input);
  }
  if (!signature.empty() && in.ConsumeIntegralInRange(0, 7) == 0) {
    const auto at = in.ConsumeIntegralInRange<std::size_t>(0, signature.size() - 1);
    signature[at] = static_cast<char>(signature[at] ^ (1 << in.ConsumeIntegralInRange(0, 7)));
  }
  return signing_input + "." + fuzz::base64url(signature);
}
// True when the payload names one of the claims the verifier reads more than once.
bool repeats_a_claim(std::string_view token) {
  const auto first = token.find('.');
  const auto second = token.find('.', first + 1);
  const auto payload = fuzz::base64url_decode(token.substr(first + 1, second - first - 1));
  simdjson::dom::parser parser;
  simdjson::dom::object claims;
  if (!payload || parser.parse(*payload).get_object().get(claims)) return false;
  std::map<std::string_view, int> seen;
  for (const auto field : claims) {
    for (std::string_view name : {"exp", "nbf", "iss", "sub", "role", "aud"}) {
      if (field.key == name && ++seen[name] > 1) return true;
    }
  }
  return false;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const auto& verifier = keys().verifier;
  if ((data[0] & 1U) == 0) {
    const std::string_view token(reinterpret_cast<const char*>(data + 1), size - 1);
    check_accepted(token, verifier.verify(token, now));
    return 0;
  }
  FuzzedDataProvider in(data + 1, size - 1);
  const std::string token = build_token(in);
  const bool duplicated = repeats_a_claim(token);
  const auto who = verifier.verify(token, now);
  check_accepted(token, who);
  // Whatever the independent reading allows is accepted, unless a member the verifier relies
  // on is repeated (it refuses those so that libjwt's reader and ours cannot disagree).
  if (!duplicated && who.has_value() != judge(token).accept) {
    std::fprintf(stderr, "token %s: verifier %s\n", token.c_str(), who ? "accepts" : who.error().message.c_str());
  }
  if (!duplicated) FUZZ_CHECK(who.has_value() == judge(token).accept);
  if (duplicated) FUZZ_CHECK(!who.has_value());
  return 0;
}
