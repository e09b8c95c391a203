// The TOTP options shared by `code` and `phone-token`.
#pragma once

#include <array>
#include <cstdint>

#include "argument_parser.hpp"
#include "crypto/totp.hpp"

namespace callsign::cli {

inline constexpr std::array<option_spec, 5> totp_option_specs{
    {{"algorithm"}, {"digits"}, {"period"}, {"t0"}, {"time"}}};

inline constexpr std::string_view totp_options_help =
    "  --algorithm NAME     SHA1 (default), SHA256 or SHA512\n"
    "  --digits N           6 (default), 7 or 8\n"
    "  --period SECONDS     time step, default 30\n"
    "  --t0 UNIX            Unix time at which step 0 starts, default 0\n"
    "  --time UNIX          Unix time to compute the code for, default now\n";

struct totp_options {
  crypto::totp_params params;
  std::int64_t unix_time = 0;
};

// Validated parameters; absent --time means the current time.
result<totp_options> read_totp_options(const parsed_options& options);

}  // namespace callsign::cli
