#include "argument_parser.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>

namespace callsign::cli {
namespace {

const option_spec* find_spec(std::span<const option_spec> specs, std::string_view name) {
  const auto it = std::find_if(specs.begin(), specs.end(), [&](const option_spec& spec) { return spec.name == name; });
  return it == specs.end() ? nullptr : &*it;
}

error bad(std::string message) {
  return make_error(error_kind::invalid_input, std::move(message));
}

}  // namespace

bool parsed_options::has(std::string_view name) const noexcept {
  return value(name).has_value();
}

std::optional<std::string_view> parsed_options::value(std::string_view name) const noexcept {
  for (const auto& [key, text] : values_) {
    if (key == name) return text;
  }
  return std::nullopt;
}

result<parsed_options> parse_options(std::span<const std::string_view> args, std::span<const option_spec> specs) {
  parsed_options parsed;
  if (std::any_of(args.begin(), args.end(), [](std::string_view arg) { return arg == "--help" || arg == "-h"; })) {
    parsed.help_ = true;
    return parsed;
  }
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string_view arg = args[i];
    if (arg.size() < 3 || arg.substr(0, 2) != "--") {
      return bad("unexpected argument in position " + std::to_string(i + 1) + " (options start with --)");
    }
    const std::size_t equals = arg.find('=');
    const std::string_view name = arg.substr(2, equals == std::string_view::npos ? arg.npos : equals - 2);
    const option_spec* spec = find_spec(specs, name);
    if (spec == nullptr) return bad("unknown option --" + std::string(name));
    if (parsed.has(name)) return bad("--" + std::string(name) + " is given twice");

    std::string_view text;
    if (equals != std::string_view::npos) {
      if (!spec->takes_value) return bad("--" + std::string(name) + " takes no value");
      text = arg.substr(equals + 1);
    } else if (spec->takes_value) {
      if (i + 1 >= args.size()) return bad("--" + std::string(name) + " needs a value");
      text = args[++i];
    }
    parsed.values_.emplace_back(spec->name, text);
  }
  return parsed;
}

result<std::optional<std::int64_t>> integer_option(const parsed_options& options, std::string_view name,
                                                   std::int64_t min, std::int64_t max) {
  const auto text = options.value(name);
  if (!text) return std::optional<std::int64_t>{};
  std::int64_t value = 0;
  const char* end = text->data() + text->size();
  const auto parsed = std::from_chars(text->data(), end, value);
  if (text->empty() || parsed.ec != std::errc{} || parsed.ptr != end || value < min || value > max) {
    return bad("--" + std::string(name) + " must be a whole number from " + std::to_string(min) + " to " +
               std::to_string(max));
  }
  return std::optional<std::int64_t>{value};
}

int usage_error(std::string_view message) {
  std::fprintf(stderr, "callsign: %.*s\n", static_cast<int>(message.size()), message.data());
  return exit_usage;
}

int runtime_error(std::string_view message) {
  std::fprintf(stderr, "callsign: %.*s\n", static_cast<int>(message.size()), message.data());
  return exit_failure;
}

int print_help(std::string_view text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
  return exit_ok;
}

}  // namespace callsign::cli
