// callsign token: a bearer token callsignd accepts, signed with its HS256 key (development,
// tests, scripts). Production callers get tokens from their identity provider instead.
#include <array>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <optional>
#include <string>

#include "argument_parser.hpp"
#include "command_table.hpp"
#include "crypto/constant_time.hpp"
#include "server/auth/token_minting.hpp"
#include "server/auth/verification_keys.hpp"
#include "server/config/config.hpp"
#include "server/config/credentials.hpp"

namespace callsign::cli {
namespace {

constexpr std::string_view usage =
    "usage: callsign token [--data-dir DIR] --role ROLE --sub ID [--ttl SECONDS] [--config FILE]\n"
    "\n"
    "Prints an HS256 bearer token for callsignd, signed with DIR/jwt-hs256.key (which\n"
    "callsignd creates on first start) or with [auth] hs256_key_file from --config.\n"
    "Issuer and audience come from --config, default \"callsign\". Send it as\n"
    "  Authorization: Bearer <token>\n"
    "The token is a credential: keep it out of shell history and logs where you can.\n"
    "\n"
    "  --data-dir DIR    callsignd's data directory (default: the config's server.data_dir)\n"
    "  --role ROLE       customer, agent, service or admin\n"
    "  --sub ID          the subject: the user id for customer, the agent id for agent, ...\n"
    "  --ttl SECONDS     lifetime, default 3600\n"
    "  --config FILE     callsignd's TOML config, for [auth] and server.data_dir\n";

constexpr std::array<option_spec, 5> specs{{{"data-dir"}, {"role"}, {"sub"}, {"ttl"}, {"config"}}};

std::span<const std::uint8_t> as_bytes(std::string_view text) noexcept {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

}  // namespace

int run_token_command(std::span<const std::string_view> args) {
  const auto options = parse_options(args, specs);
  if (!options) return usage_error(options.error().message);
  if (options->help_requested()) return print_help(usage);

  const auto role_text = options->value("role");
  if (!role_text) return usage_error("token needs --role (customer, agent, service or admin)");
  const auto role = server::parse_role(*role_text);
  if (!role) return usage_error("--role must be customer, agent, service or admin");
  const auto sub = options->value("sub");
  if (!sub) return usage_error("token needs --sub");
  if (!server::valid_subject(*sub)) return usage_error("--sub must be 1-128 visible ASCII characters");
  const auto ttl = integer_option(*options, "ttl", 1, server::max_token_ttl_seconds);
  if (!ttl) return usage_error(ttl.error().message);
  const auto data_dir_option = options->value("data-dir");
  const auto config_option = options->value("config");
  if ((!data_dir_option || data_dir_option->empty()) && !config_option) {
    return usage_error("token needs --data-dir (or --config naming server.data_dir)");
  }

  server::server_config config;  // defaults: issuer and audience "callsign"
  if (config_option) {
    auto loaded = server::load_config_file(std::filesystem::path(*config_option));
    if (!loaded) return runtime_error(loaded.error().message);
    config = std::move(loaded).value();
    // The same file callsignd reads, with the same "credential:NAME" paths (systemd credentials).
    if (auto resolved = server::resolve_credential_paths(config, std::getenv("CREDENTIALS_DIRECTORY")); !resolved) {
      return runtime_error(resolved.error().message);
    }
  }
  const std::filesystem::path data_dir =
      data_dir_option && !data_dir_option->empty() ? std::filesystem::path(*data_dir_option) : config.data_dir;
  const bool public_keys_only = !config.auth.hs256_key_file && !config.dev_mode &&
                                (config.auth.es256_public_key_file || config.auth.rs256_public_key_file);
  if (public_keys_only) {
    return runtime_error(
        "this configuration accepts only ES256/RS256 tokens; get one from your identity provider "
        "(or set [auth] hs256_key_file)");
  }

  auto key = server::load_hs256_signing_key(config.auth, data_dir);
  if (!key) {
    if (key.error().kind == error_kind::not_found) {
      const auto path =
          config.auth.hs256_key_file ? *config.auth.hs256_key_file : data_dir / server::dev_hs256_key_file_name;
      return runtime_error("no HS256 key at " + path.string() + " (start callsignd once with this data directory " +
                           "to create it)");
    }
    return runtime_error(key.error().message);
  }
  const auto token = server::mint_hs256_token(as_bytes(*key), config.auth.issuer, config.auth.audience, *role, *sub,
                                              static_cast<std::int64_t>(std::time(nullptr)), ttl->value_or(3600));
  crypto::secure_wipe(*key);
  if (!token) return runtime_error(token.error().message);
  std::printf("%s\n", token->c_str());
  return exit_ok;
}

}  // namespace callsign::cli
