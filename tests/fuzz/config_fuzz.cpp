// callsignd's TOML config reader and its listen-address parser on arbitrary text.
// Invariants: a refusal is invalid_input naming the file; parsing is deterministic; an
// accepted listen address, written back as host:port, parses to the same address.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz/fuzz_check.hpp"
#include "server/config.hpp"

using namespace callsign;
using namespace callsign::server;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  if ((data[0] & 1U) == 0) {
    const auto address = parse_listen_address(text);
    if (!address) {
      FUZZ_CHECK(address.error().kind == error_kind::invalid_input);
      return 0;
    }
    FUZZ_CHECK(!address->host.empty());
    const bool bracketed = text.front() == '[';  // an unbracketed host ends at the last ':'
    const std::string written = bracketed ? "[" + address->host + "]:" + std::to_string(address->port)
                                          : address->host + ":" + std::to_string(address->port);
    const auto again = parse_listen_address(written);
    FUZZ_CHECK(again.has_value());
    FUZZ_CHECK(again->host == address->host && again->port == address->port);
    return 0;
  }
  // toml++ 3.3.0 (Debian 12) reaches __builtin_unreachable for some code points in
  // U+00A1..U+04BF in certain positions (upstream marzer/tomlplusplus#190, #295, fixed after
  // 3.3.0; docs/fuzzing.md). Lead bytes 0xC2..0xD2 are skipped so the run goes on to our code.
  for (const char c : text) {
    if (static_cast<unsigned char>(c) >= 0xc2 && static_cast<unsigned char>(c) <= 0xd2) return 0;
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
  // An accepted config is inside the bounds docs/configuration.md documents.
  const auto& c = *config;
  FUZZ_CHECK(c.io_threads <= 256 && c.worker_threads >= 1 && c.worker_threads <= 256);
  FUZZ_CHECK(c.body_limit >= 1024 && c.header_limit >= 1024 && c.max_connections >= 1);
  FUZZ_CHECK(c.request_timeout.count() >= 100);
  FUZZ_CHECK(c.phone_token.digits >= 6 && c.phone_token.digits <= 8);
  FUZZ_CHECK(c.phone_token.period >= 1 && c.phone_token.period <= 3600);
  FUZZ_CHECK(c.auth.leeway_seconds >= 0 && c.auth.leeway_seconds <= 300);
  FUZZ_CHECK(c.verify.authenticator_steps_ahead >= 0 && c.verify.authenticator_steps_ahead <= 2);
  FUZZ_CHECK(c.authenticator.issuer.find(':') == std::string::npos);
  FUZZ_CHECK(c.stream.max_connections_per_user >= 1 && c.stream.max_connections_per_user <= 1000);
  FUZZ_CHECK(c.stream.max_message_bytes >= 256 && c.stream.max_message_bytes <= 1048576);
  FUZZ_CHECK(c.stream.outbox_messages >= 1 && c.stream.outbox_messages <= 1024);
  FUZZ_CHECK(c.body_limit == again->body_limit && c.listen.port == again->listen.port);
  FUZZ_CHECK(config->auth.issuer == again->auth.issuer && config->data_dir == again->data_dir);
  return 0;
}
