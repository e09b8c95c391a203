// callsign: operator CLI. Dispatches to the subcommands in command_table.cpp.
#include <cstdio>
#include <exception>
#include <string>
#include <string_view>
#include <vector>

#include "argument_parser.hpp"
#include "command_table.hpp"

namespace {

void print_overview(std::FILE* out) {
  std::fputs("usage: callsign <command> [options]\n\ncommands:\n", out);
  for (const auto& command : callsign::cli::commands()) {
    std::fprintf(out, "  %-14.*s %.*s\n", static_cast<int>(command.name.size()), command.name.data(),
                 static_cast<int>(command.summary.size()), command.summary.data());
  }
  std::fputs("\nRun 'callsign <command> --help' for a command's options.\n", out);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace callsign::cli;
  try {
    const std::vector<std::string_view> args(argv + 1, argv + argc);
    if (args.empty()) return usage_error("missing command (run 'callsign --help' for the list)");
    if (args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
      print_overview(stdout);
      return exit_ok;
    }
    const command* selected = find_command(args[0]);
    if (selected == nullptr) {
      return usage_error("unknown command '" + std::string(args[0]) + "' (run 'callsign --help' for the list)");
    }
    return selected->run(std::span(args).subspan(1));
  } catch (const std::exception&) {
    // Only allocation failure can get here; the libraries report everything else as values.
    return runtime_error("out of memory");
  }
}
