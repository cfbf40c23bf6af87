// Flag parsing shared by spindle's programs: the exit codes of docs/operating.md.
#pragma once

#include <CLI/CLI.hpp>
#include <optional>

namespace spindle::cmd {

// Exit codes of every program: 0 success (also --help, --version and a signalled shutdown),
// 1 a failure at run time (an address that cannot be bound...), 2 wrong flags.
inline constexpr int kExitUsage = 2;

// Parses the flags. On --help or --version prints and returns 0; on a flag error prints it
// with the hint CLI11 gives and returns kExitUsage; otherwise nullopt: run.
inline std::optional<int> parse_flags(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : kExitUsage;
  }
  return std::nullopt;
}

}  // namespace spindle::cmd
