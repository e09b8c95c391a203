// callsignd's config reader on TOML documents written from sections, keys and values drawn
// from the input (first byte odd), and the listen-address parser on arbitrary text (even).
// Invariants: an accepted config is within every bound docs/configuration.md states; a
// refusal is invalid_input naming the file; parsing is deterministic; an accepted listen
// address, written back as host:port, parses to the same address.
//
// The documents are always well-formed TOML: toml++ 3.3.0 (Debian 12) asserts, or under
// NDEBUG assumes, on many malformed inputs (upstream marzer/tomlplusplus#190, #294, #295;
// docs/fuzzing.md), so raw bytes would only rediscover those and never reach our own checks.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "crypto/hex.hpp"
#include "fuzz/fuzz_check.hpp"
#include "server/config/config.hpp"

using namespace callsign;
using namespace callsign::server;

namespace {
constexpr const char* sections[] = {"server", "limits",        "log",    "phone_token", "auth", "verify",
                                    "audit",  "authenticator", "stream", "tls",  "bogus"};
constexpr const char* keys[] = {"listen",
                                "data_dir",
                                "port_file",
                                "io_threads",
                                "worker_threads",
                                "dev_mode",
                                "web_root",
                                "body_bytes",
                                "header_bytes",
                                "request_timeout_ms",
                                "shutdown_timeout_ms",
                                "max_connections",
                                "level",
                                "algorithm",
                                "digits",
                                "period",
                                "t0",
                                "issuer",
                                "audience",
                                "leeway_seconds",
                                "token_cache_entries",
                                "hs256_key_file",
                                "authenticator_steps_ahead",
                                "window_seconds",
                                "user_failures",
                                "agent_failures",
                                "ip_failures",
                                "checkpoint_every",
                                "checkpoint_interval_seconds",
                                "max_connections_per_user",
                                "auth_timeout_ms",
                                "idle_timeout_ms",
                                "write_timeout_ms",
                                "max_message_bytes",
                                "outbox_messages",
                                "allowed_origins",
                                "enabled",
                                "cert_file",
                                "key_file",
                                "min_version",
                                "plaintext",
                                "unknown_key"};

// A TOML basic string of printable ASCII (other bytes escaped or replaced).
std::string toml_string(FuzzedDataProvider& in) {
  const std::string raw =
      in.ConsumeBool() ? std::string(in.PickValueInArray({"127.0.0.1:0", "[::1]:8080", "SHA256", "debug", "ACME:x",
                                                          "https://support.example.com", "/tmp/x", "1.3", ""}))
                       : in.ConsumeRandomLengthString(40);
  std::string out = "\"";
  for (const char c : raw) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u == 0x7f) {
      out += "\\u00";
      crypto::append_hex_byte(out, u);
    } else {
      out += u < 0x80 ? c : '?';
    }
  }
  return out + "\"";
}

std::string toml_value(FuzzedDataProvider& in) {
  switch (in.ConsumeIntegralInRange(0, 6)) {
    case 0: return std::to_string(in.ConsumeIntegral<std::int64_t>());
    case 1: return std::to_string(in.ConsumeIntegralInRange<std::int64_t>(-2, 70'000));
    case 2: return in.ConsumeBool() ? "true" : "false";
    case 3: return std::to_string(in.ConsumeIntegralInRange(-5, 5)) + ".5";
    case 4: {
      std::string list = "[";
      for (int n = in.ConsumeIntegralInRange(0, 3); n > 0; --n) list += toml_string(in) + (n > 1 ? ", " : "");
      return list + "]";
    }
    default: return toml_string(in);
  }
}

void check_listen_address(std::string_view text) {
  const auto address = parse_listen_address(text);
  if (!address) {
    FUZZ_CHECK(address.error().kind == error_kind::invalid_input);
    return;
  }
  FUZZ_CHECK(!address->host.empty());
  const bool bracketed = text.front() == '[';  // an unbracketed host ends at the last ':'
  const std::string written = bracketed ? "[" + address->host + "]:" + std::to_string(address->port)
                                        : address->host + ":" + std::to_string(address->port);
  const auto again = parse_listen_address(written);
  FUZZ_CHECK(again.has_value());
  FUZZ_CHECK(again->host == address->host && again->port == address->port);
}

// An accepted config is inside the bounds docs/configuration.md documents.
void check_bounds(const server_config& c) {
  FUZZ_CHECK(c.io_threads <= 256 && c.worker_threads >= 1 && c.worker_threads <= 256);
  FUZZ_CHECK(c.body_limit >= 1024 && c.header_limit >= 1024 && c.max_connections >= 1);
  FUZZ_CHECK(c.request_timeout.count() >= 100);
  FUZZ_CHECK(c.phone_token.digits >= 6 && c.phone_token.digits <= 8);
  FUZZ_CHECK(c.phone_token.period >= 1 && c.phone_token.period <= 3600);
  FUZZ_CHECK(c.phone_token.t0 >= 0);
  FUZZ_CHECK(c.auth.leeway_seconds >= 0 && c.auth.leeway_seconds <= 300);
  FUZZ_CHECK(c.auth.token_cache_entries <= (std::size_t{1} << 20));
  FUZZ_CHECK(c.verify.authenticator_steps_ahead >= 0 && c.verify.authenticator_steps_ahead <= 2);
  FUZZ_CHECK(c.authenticator.issuer.find(':') == std::string::npos);
  FUZZ_CHECK(c.stream.max_connections_per_user >= 1 && c.stream.max_connections_per_user <= 1000);
  FUZZ_CHECK(c.stream.max_connections >= 1);
  FUZZ_CHECK(c.stream.auth_timeout.count() >= 100 && c.stream.auth_timeout.count() <= 60'000);
  FUZZ_CHECK(c.stream.idle_timeout.count() >= 1000 && c.stream.write_timeout.count() >= 100);
  FUZZ_CHECK(c.stream.max_message_bytes >= 256 && c.stream.max_message_bytes <= 1048576);
  FUZZ_CHECK(c.stream.outbox_messages >= 1 && c.stream.outbox_messages <= 1024);
  FUZZ_CHECK(!c.tls.enabled || (c.tls.cert_file && c.tls.key_file));  // [tls] needs both files
  FUZZ_CHECK(c.tls.enabled || c.tls.plaintext);                        // some listener is left
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  if ((data[0] & 1U) == 0) {
    check_listen_address(std::string_view(reinterpret_cast<const char*>(data + 1), size - 1));
    return 0;
  }
  FuzzedDataProvider in(data + 1, size - 1);
  std::string text;
  for (int s = in.ConsumeIntegralInRange(0, 4); s > 0; --s) {
    text += "[" + std::string(in.PickValueInArray(sections)) + "]\n";
    for (int k = in.ConsumeIntegralInRange(0, 6); k > 0; --k) {
      text += std::string(in.PickValueInArray(keys)) + " = " + toml_value(in) + "\n";
    }
  }
  const auto config = parse_config(text, "fuzz.toml");
  const auto again = parse_config(text, "fuzz.toml");
  FUZZ_CHECK(config.has_value() == again.has_value());
  if (!config) {
    FUZZ_CHECK(config.error().kind == error_kind::invalid_input);
    FUZZ_CHECK(config.error().message.rfind("fuzz.toml", 0) == 0);
    FUZZ_CHECK(config.error().message == again.error().message);
    return 0;
  }
  check_bounds(*config);
  FUZZ_CHECK(config->body_limit == again->body_limit && config->listen.port == again->listen.port);
  FUZZ_CHECK(config->auth.issuer == again->auth.issuer && config->data_dir == again->data_dir);
  return 0;
}
