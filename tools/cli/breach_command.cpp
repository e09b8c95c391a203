// callsign breach build | import-hibp: sorted binary set files for the exposed_credentials
// and exposed_passwords lists (docs/lists.md). Inputs stream through an external sort, so
// their size is bounded by disk, not memory. No password is ever printed.
#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "argument_parser.hpp"
#include "command_table.hpp"
#include "crypto/constant_time.hpp"
#include "crypto/credential_hash.hpp"
#include "crypto/hex.hpp"
#include "key_ring_source.hpp"
#include "line_input.hpp"
#include "progress_display.hpp"
#include "storage/lists/breach_input.hpp"
#include "storage/lists/hash_set_builder.hpp"

namespace callsign::cli {
namespace {

constexpr std::string_view usage =
    "usage: callsign breach build --data-dir DIR --pairs FILE --out SET [options]\n"
    "       callsign breach import-hibp --in FILE --out SET [--run-mb N]\n"
    "\n"
    "build: a sorted set of HMAC-SHA256(k, normalize(username) || 0x00 || password)[0..16),\n"
    "k derived from the server's master key ring (see --master-key). Input lines are\n"
    "user:password, split at the first colon, or CSV with --csv. FILE may be '-' for stdin.\n"
    "  --data-dir DIR          callsignd's data directory\n"
    "  --master-key FILE       the master key ring to read (mode 0600 or 0400). Without it:\n"
    "                          $CREDENTIALS_DIRECTORY/master.key when that file exists (the\n"
    "                          systemd credential callsignd reads), else DIR/master.key\n"
    "  --pairs FILE            input pairs\n"
    "  --out SET               output set file (written as SET.tmp, then renamed)\n"
    "  --csv                   input is CSV, one record per line\n"
    "  --user-column N         1-based CSV column of the username (default 1)\n"
    "  --password-column N     1-based CSV column of the password (default 2)\n"
    "  --header                skip the first line\n"
    "  --empty-value TEXT      a field exactly equal to TEXT means empty (e.g. '<blank>');\n"
    "                          without it every value is taken literally\n"
    "  --key-version V         master key version, default the current one\n"
    "  --run-mb N              memory for one sorted run, MB (default 128)\n"
    "\n"
    "import-hibp: Have I Been Pwned Pwned Passwords (SHA-1 format, SHA1HEX:COUNT lines) to a\n"
    "sorted set of the first 8 bytes of each SHA-1.\n";

constexpr std::array<option_spec, 12> specs{{{"data-dir"},
                                             master_key_option,
                                             {"pairs"},
                                             {"out"},
                                             {"csv", false},
                                             {"user-column"},
                                             {"password-column"},
                                             {"header", false},
                                             {"empty-value"},
                                             {"key-version"},
                                             {"run-mb"},
                                             {"in"}}};

int line_error(std::uint64_t line, const error& err) {
  return runtime_error("line " + std::to_string(line) + ": " + err.message + " (nothing was written)");
}

result<std::size_t> run_bytes(const parsed_options& options) {
  auto mb = integer_option(options, "run-mb", 8, 64 * 1024);
  if (!mb) return mb.error();
  return static_cast<std::size_t>(mb->value_or(128)) << 20;
}

void report(const storage::hash_set_header& header, std::uint64_t added, std::size_t runs,
            const std::filesystem::path& out) {
  std::printf("wrote %s: %llu entries (%llu input, %zu sorted runs), sha256 of entries and page index %s\n",
              out.c_str(), static_cast<unsigned long long>(header.count), static_cast<unsigned long long>(added), runs,
              crypto::hex_encode(header.checksum).c_str());
}

int run_build(const parsed_options& options) {
  const auto data_dir = options.value("data-dir");
  const auto pairs = options.value("pairs");
  const auto out = options.value("out");
  if (!data_dir || data_dir->empty()) return usage_error("breach build needs --data-dir");
  if (!pairs || pairs->empty()) return usage_error("breach build needs --pairs");
  if (!out || out->empty()) return usage_error("breach build needs --out");
  const bool csv = options.has("csv");
  auto user_column = integer_option(options, "user-column", 1, 1000);
  auto password_column = integer_option(options, "password-column", 1, 1000);
  if (!user_column) return usage_error(user_column.error().message);
  if (!password_column) return usage_error(password_column.error().message);
  if (!csv && (*user_column || *password_column)) return usage_error("--user-column/--password-column need --csv");
  const auto user_index = static_cast<std::size_t>(user_column->value_or(1) - 1);
  const auto password_index = static_cast<std::size_t>(password_column->value_or(2) - 1);
  if (user_index == password_index) return usage_error("--user-column and --password-column must differ");
  const std::optional<std::string_view> empty_value = options.value("empty-value");
  const auto version = integer_option(options, "key-version", 1, std::numeric_limits<std::uint32_t>::max());
  if (!version) return usage_error(version.error().message);
  const auto run = run_bytes(options);
  if (!run) return usage_error(run.error().message);

  const auto master_key = options.value(master_key_option.name);
  if (master_key && master_key->empty()) return usage_error("--master-key needs a file name");
  const auto source = locate_key_ring(master_key, std::filesystem::path(*data_dir));
  if (!source) return runtime_error(source.error().message);
  const auto ring = load_key_ring(*source);
  if (!ring) return runtime_error(ring.error().message);
  const crypto::master_key* master = &ring->current();
  if (*version) {
    master = ring->find(static_cast<std::uint32_t>(**version));
    if (master == nullptr)
      return runtime_error("key version " + std::to_string(**version) + " is not in " + describe(*source));
  }
  const crypto::credential_hasher hasher(*master);

  const std::string input_name = *pairs == "-" ? std::string("stdin") : std::string(*pairs);
  auto input = line_input::open(std::filesystem::path(*pairs));
  if (!input) return runtime_error(input.error().message);
  storage::hash_set_build_options build;
  build.kind = storage::hash_set_kind::credentials;
  build.key_id = hasher.key_id();
  build.run_bytes = *run;
  auto builder = storage::hash_set_builder::create(std::filesystem::path(*out), build);
  if (!builder) return runtime_error(builder.error().message);

  progress_display progress("breach build", input->total_bytes());
  std::vector<std::string> fields;
  auto wipe_fields = [&fields] {
    for (auto& f : fields) crypto::secure_wipe(f);
  };
  std::string_view raw;
  std::uint64_t line = 0;
  const auto value_of = [&](std::string_view v) { return empty_value && v == *empty_value ? std::string_view() : v; };
  while (input->next(raw)) {
    ++line;
    progress.update(line, input->bytes_read());
    const std::string_view text = storage::strip_line_ending(raw);
    if (line == 1 && options.has("header")) continue;
    if (text.empty()) continue;
    std::string_view user;
    std::string_view password;
    if (csv) {
      if (auto split = storage::split_csv_line(text, fields); !split) {
        wipe_fields();
        return line_error(line, split.error());
      }
      if (fields.size() <= std::max(user_index, password_index)) {
        wipe_fields();
        return line_error(line, make_error(error_kind::invalid_input, "too few CSV columns"));
      }
      user = fields[user_index];
      password = fields[password_index];
    } else {
      auto pair = storage::split_pair_line(text);
      if (!pair) return line_error(line, pair.error());
      user = pair->username;
      password = pair->password;
    }
    const auto digest = hasher.hash(value_of(user), value_of(password));
    wipe_fields();
    if (auto added = builder->add(digest); !added) return runtime_error(added.error().message);
  }
  if (input->failed()) return runtime_error("reading " + input_name + " failed (nothing was written)");
  progress.finish(line, input->bytes_read());
  auto header = builder->finish();
  if (!header) return runtime_error(header.error().message);
  report(*header, builder->added(), builder->runs_written(), *out);
  return exit_ok;
}

int run_import_hibp(const parsed_options& options) {
  const auto in = options.value("in");
  const auto out = options.value("out");
  if (!in || in->empty()) return usage_error("breach import-hibp needs --in");
  if (!out || out->empty()) return usage_error("breach import-hibp needs --out");
  const auto run = run_bytes(options);
  if (!run) return usage_error(run.error().message);
  const std::string input_name = *in == "-" ? std::string("stdin") : std::string(*in);
  auto input = line_input::open(std::filesystem::path(*in));
  if (!input) return runtime_error(input.error().message);
  storage::hash_set_build_options build;
  build.kind = storage::hash_set_kind::passwords;
  build.run_bytes = *run;
  auto builder = storage::hash_set_builder::create(std::filesystem::path(*out), build);
  if (!builder) return runtime_error(builder.error().message);
  progress_display progress("breach import-hibp", input->total_bytes());
  std::string_view raw;
  std::uint64_t line = 0;
  while (input->next(raw)) {
    ++line;
    progress.update(line, input->bytes_read());
    const std::string_view text = storage::strip_line_ending(raw);
    if (text.empty()) continue;
    auto key = storage::parse_hibp_line(text);
    if (!key) return line_error(line, key.error());
    if (auto added = builder->add(*key); !added) return runtime_error(added.error().message);
  }
  if (input->failed()) return runtime_error("reading " + input_name + " failed (nothing was written)");
  progress.finish(line, input->bytes_read());
  auto header = builder->finish();
  if (!header) return runtime_error(header.error().message);
  report(*header, builder->added(), builder->runs_written(), *out);
  return exit_ok;
}

}  // namespace

int run_breach_command(std::span<const std::string_view> args) {
  if (args.empty()) return usage_error("breach needs a subcommand: build or import-hibp");
  const std::string_view sub = args[0];
  if (sub == "--help" || sub == "-h") return print_help(usage);
  auto options = parse_options(args.subspan(1), specs);
  if (!options) return usage_error(options.error().message);
  if (options->help_requested()) return print_help(usage);
  if (sub == "build") {
    if (options->has("in")) return usage_error("breach build takes --pairs, not --in");
    return run_build(*options);
  }
  if (sub == "import-hibp") {
    for (const char* name : {"data-dir", "master-key", "pairs", "csv", "user-column", "password-column", "header",
                             "empty-value", "key-version"}) {
      if (options->has(name)) return usage_error("breach import-hibp does not take --" + std::string(name));
    }
    return run_import_hibp(*options);
  }
  return usage_error("unknown breach subcommand (build or import-hibp)");
}

}  // namespace callsign::cli
