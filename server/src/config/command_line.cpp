#include <charconv>
#include <cstdlib>

#include "server/config/config.hpp"
#include "server/config/credentials.hpp"

namespace callsign::server {

std::string_view command_line_usage() noexcept {
  return "usage: callsignd [--data-dir DIR] [--listen HOST:PORT] [--config FILE] [--port-file FILE]\n"
         "                 [--tls-port-file FILE] [--io-threads N] [--dev] [--list-routes]\n"
         "  --data-dir DIR      RocksDB, master.key and dev keys live here (default ./var)\n"
         "  --listen HOST:PORT  address to serve on; port 0 picks a free port (default 127.0.0.1:8080)\n"
         "  --config FILE       TOML config (see docs/configuration.md); flags override it\n"
         "  --port-file FILE    write the bound port number to FILE once listening\n"
         "  --tls-port-file FILE  the same for the [tls] listener's port\n"
         "  --io-threads N      I/O threads (default: one per core)\n"
         "  --dev               development mode: demo identities and dev tokens\n"
         "  --list-routes       print every route (METHOD PATTERN) and exit; touches no data dir\n";
}

result<command_line> parse_command_line(const std::vector<std::string_view>& args) {
  command_line cli;
  for (std::size_t i = 0; i < args.size(); ++i) {
    auto arg = args[i];
    auto value = [&](std::string_view flag) -> result<std::string_view> {
      if (i + 1 >= args.size() || args[i + 1].empty()) {
        return make_error(error_kind::invalid_input, std::string(flag) + " needs a value");
      }
      return args[++i];
    };
    if (arg == "--help" || arg == "-h") {
      cli.help = true;
    } else if (arg == "--list-routes") {
      cli.list_routes = true;
    } else if (arg == "--dev") {
      cli.dev_mode = true;
    } else if (arg == "--config" || arg == "--data-dir" || arg == "--listen" || arg == "--port-file" ||
               arg == "--tls-port-file" || arg == "--io-threads") {
      auto v = value(arg);
      if (!v) {
        return v.error();
      }
      if (arg == "--config") {
        cli.config_file = std::filesystem::path(*v);
      } else if (arg == "--data-dir") {
        cli.data_dir = std::filesystem::path(*v);
      } else if (arg == "--listen") {
        cli.listen = std::string(*v);
      } else if (arg == "--port-file") {
        cli.port_file = std::filesystem::path(*v);
      } else if (arg == "--tls-port-file") {
        cli.tls_port_file = std::filesystem::path(*v);
      } else {
        unsigned n = 0;
        auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
        if (ec != std::errc() || end != v->data() + v->size() || n > 256) {
          return make_error(error_kind::invalid_input, "--io-threads must be a number from 0 to 256");
        }
        cli.io_threads = n;
      }
    } else {
      return make_error(error_kind::invalid_input, "unknown argument " + std::string(arg));
    }
  }
  return cli;
}

result<server_config> resolve_config(const command_line& cli) {
  server_config cfg;
  if (cli.config_file) {
    auto loaded = load_config_file(*cli.config_file);
    if (!loaded) {
      return loaded.error();
    }
    cfg = std::move(loaded).value();
  }
  if (cli.data_dir) {
    cfg.data_dir = *cli.data_dir;
  }
  if (cli.listen) {
    auto addr = parse_listen_address(*cli.listen);
    if (!addr) {
      return make_error(error_kind::invalid_input, "--listen " + addr.error().message);
    }
    cfg.listen = *addr;
  }
  if (cli.port_file) {
    cfg.port_file = *cli.port_file;
  }
  if (cli.tls_port_file) {
    cfg.tls.port_file = *cli.tls_port_file;
  }
  if (cli.io_threads) {
    cfg.io_threads = *cli.io_threads;
  }
  if (cli.dev_mode) {
    cfg.dev_mode = true;
  }
  // systemd's LoadCredential= (docs/operations.md, "Credentials").
  if (auto resolved = resolve_credential_paths(cfg, std::getenv("CREDENTIALS_DIRECTORY")); !resolved) {
    return resolved.error();
  }
  return cfg;
}

}  // namespace callsign::server
