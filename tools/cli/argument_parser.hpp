// Command-line options for callsign subcommands: "--name value", "--name=value", flags and
// --help. Errors are one-line messages that never echo option values (they may be secrets).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "crypto/result.hpp"

namespace callsign::cli {

enum exit_code : int { exit_ok = 0, exit_failure = 1, exit_usage = 2 };

struct option_spec {
  std::string_view name;  // without the leading "--"
  bool takes_value = true;
};

class parsed_options {
 public:
  bool help_requested() const noexcept { return help_; }
  bool has(std::string_view name) const noexcept;
  std::optional<std::string_view> value(std::string_view name) const noexcept;

 private:
  friend result<parsed_options> parse_options(std::span<const std::string_view>, std::span<const option_spec>);
  bool help_ = false;
  std::vector<std::pair<std::string_view, std::string_view>> values_;
};

// "--help" or "-h" anywhere wins over every other problem, so help always works. Options may
// appear once each; positional arguments are rejected.
result<parsed_options> parse_options(std::span<const std::string_view> args, std::span<const option_spec> specs);

// The option's value as a decimal integer in [min, max]; nullopt when the option is absent.
result<std::optional<std::int64_t>> integer_option(const parsed_options& options, std::string_view name,
                                                   std::int64_t min, std::int64_t max);

// Prints "callsign: <message>" to stderr and returns exit_usage (or exit_failure).
int usage_error(std::string_view message);
int runtime_error(std::string_view message);

// Prints `text` to stdout and returns exit_ok: the --help path of every command.
int print_help(std::string_view text);

}  // namespace callsign::cli
