// callsign code: the TOTP code for a base32 secret (the role of `oathtool --totp`).
#include <array>
#include <cstdio>
#include <iostream>
#include <string>

#include "argument_parser.hpp"
#include "command_table.hpp"
#include "crypto/base32.hpp"
#include "crypto/constant_time.hpp"
#include "crypto/hmac_key.hpp"
#include "totp_options.hpp"

namespace callsign::cli {
namespace {

constexpr std::string_view usage =
    "usage: callsign code --secret BASE32 [options]\n"
    "\n"
    "Prints the TOTP code (RFC 6238) for a shared secret.\n"
    "\n"
    "  --secret BASE32      the secret in base32, any case, padding optional;\n"
    "                       '-' reads it from the first line of standard input,\n"
    "                       which keeps it out of the process list\n";

constexpr std::array<option_spec, 6> specs{{{"secret"},
                                            totp_option_specs[0],
                                            totp_option_specs[1],
                                            totp_option_specs[2],
                                            totp_option_specs[3],
                                            totp_option_specs[4]}};

}  // namespace

int run_code_command(std::span<const std::string_view> args) {
  const auto options = parse_options(args, specs);
  if (!options) return usage_error(options.error().message);
  if (options->help_requested()) {
    print_help(usage);
    return print_help(totp_options_help);
  }
  const auto secret_option = options->value("secret");
  if (!secret_option) return usage_error("code needs --secret");
  const auto totp = read_totp_options(*options);
  if (!totp) return usage_error(totp.error().message);

  std::string secret_text(*secret_option);
  if (secret_text == "-") {
    secret_text.clear();
    if (!std::getline(std::cin, secret_text)) return runtime_error("no secret on standard input");
    if (!secret_text.empty() && secret_text.back() == '\r') secret_text.pop_back();
  }
  auto secret = crypto::base32_decode(secret_text);
  crypto::secure_wipe(secret_text);
  if (!secret) return usage_error("--secret: " + secret.error().message);
  if (secret->empty()) return usage_error("--secret is empty");

  auto key = crypto::hmac_key::create(totp->params.algorithm, *secret);
  crypto::secure_wipe(*secret);
  if (!key) return runtime_error(key.error().message);
  const std::string code = crypto::totp_code(*key, totp->params, totp->unix_time);
  std::printf("%s\n", code.c_str());
  return exit_ok;
}

}  // namespace callsign::cli
