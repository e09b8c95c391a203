// callsign phone-token: a user's phone token, derived from callsignd's master key ring.
#include <array>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <string>

#include "argument_parser.hpp"
#include "command_table.hpp"
#include "crypto/key_derivation.hpp"
#include "key_ring_source.hpp"
#include "totp_options.hpp"
#include "storage/user_store.hpp"

namespace callsign::cli {
namespace {

constexpr std::string_view usage =
    "usage: callsign phone-token --data-dir DIR --user ID [--master-key FILE] [options]\n"
    "\n"
    "Prints the phone token a user reads out to support: RFC 6238 TOTP over\n"
    "HMAC-SHA256(master key, \"callsign phone-token\" || 0x00 || user id).\n"
    "The master key ring is the one callsignd reads (see --master-key); this command\n"
    "never creates one.\n"
    "\n"
    "  --data-dir DIR       callsignd's data directory\n"
    "  --user ID            the user id, exactly as the server stores it ([A-Za-z0-9._@:-])\n"
    "  --key-version V      master key version to use, default the current one\n";

constexpr std::array<option_spec, 9> specs{{{"data-dir"},
                                            {"user"},
                                            {"key-version"},
                                            master_key_option,
                                            totp_option_specs[0],
                                            totp_option_specs[1],
                                            totp_option_specs[2],
                                            totp_option_specs[3],
                                            totp_option_specs[4]}};

}  // namespace

int run_phone_token_command(std::span<const std::string_view> args) {
  const auto options = parse_options(args, specs);
  if (!options) return usage_error(options.error().message);
  if (options->help_requested()) {
    print_help(usage);
    print_help(master_key_help);
    return print_help(totp_options_help);
  }
  const auto data_dir = options->value("data-dir");
  const auto user = options->value("user");
  if (!data_dir || data_dir->empty()) return usage_error("phone-token needs --data-dir");
  if (!user || user->empty()) return usage_error("phone-token needs a non-empty --user");
  // The server stores no other id, so a token for one could never be read out or verified.
  if (!storage::valid_user_id(*user)) {
    return usage_error("--user must be a user id as callsignd stores it: 1-128 bytes of A-Z a-z 0-9 . _ @ : -");
  }
  const auto version = integer_option(*options, "key-version", 1, std::numeric_limits<std::uint32_t>::max());
  if (!version) return usage_error(version.error().message);
  const auto totp = read_totp_options(*options);
  if (!totp) return usage_error(totp.error().message);

  const auto master_key = options->value(master_key_option.name);
  if (master_key && master_key->empty()) return usage_error("--master-key needs a file name");
  const auto source = locate_key_ring(master_key, std::filesystem::path(*data_dir));
  if (!source) return runtime_error(source.error().message);
  const auto ring = load_key_ring(*source);
  if (!ring) return runtime_error(ring.error().message);
  const crypto::master_key* master = &ring->current();
  if (*version) {
    master = ring->find(static_cast<std::uint32_t>(**version));
    if (master == nullptr) {
      return runtime_error("key version " + std::to_string(**version) + " is not in " + describe(*source));
    }
  }
  const std::string token = crypto::phone_token(*master, *user, totp->params, totp->unix_time);
  std::printf("%s\n", token.c_str());
  return exit_ok;
}

}  // namespace callsign::cli
