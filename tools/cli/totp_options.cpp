#include "totp_options.hpp"

#include <chrono>
#include <limits>

namespace callsign::cli {

result<totp_options> read_totp_options(const parsed_options& options) {
  constexpr auto int64_min = std::numeric_limits<std::int64_t>::min();
  constexpr auto int64_max = std::numeric_limits<std::int64_t>::max();
  totp_options out;
  if (const auto text = options.value("algorithm")) {
    auto algorithm = crypto::parse_hash_algorithm(*text);
    if (!algorithm) return make_error(error_kind::invalid_input, "--algorithm must be SHA1, SHA256 or SHA512");
    out.params.algorithm = *algorithm;
  }
  const auto digits = integer_option(options, "digits", 6, 8);
  if (!digits) return digits.error();
  if (*digits) out.params.digits = static_cast<int>(**digits);
  const auto period = integer_option(options, "period", 1, int64_max);
  if (!period) return period.error();
  if (*period) out.params.period = **period;
  const auto t0 = integer_option(options, "t0", int64_min, int64_max);
  if (!t0) return t0.error();
  if (*t0) out.params.t0 = **t0;
  const auto time = integer_option(options, "time", int64_min, int64_max);
  if (!time) return time.error();
  out.unix_time =
      *time ? **time
            : std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
                  .count();
  if (auto valid = out.params.validate(); !valid) return valid.error();
  return out;
}

}  // namespace callsign::cli
