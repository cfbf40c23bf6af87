// Flags every spindle program spells the same way, for CLI11: Go-style durations ("250ms",
// "3s", "1m", parsed by base::parse_duration), --log-level/--log-format (base/log.h) and
// --debug-listen (debug/debug_server.h), and the exit codes of docs/operating.md. Used by the
// mains in cmd/.
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <string>

#include "base/time.h"

namespace spindle::cmd {

// Exit codes of every program: 0 success (also --help, --version and a signalled shutdown),
// 1 a failure at run time (an address that cannot be bound...), 2 wrong flags.
inline constexpr int kExitUsage = 2;

// Parses the flags. On --help or --version prints and returns 0; on a flag error prints it
// with the hint CLI11 gives and returns kExitUsage; otherwise nullopt: run.
std::optional<int> parse_flags(CLI::App& app, int argc, char** argv);

// An option taking a duration (not negative) into *out; a bad value is a CLI11 validation
// error naming the flag. The help ends with the default, *out as Go prints it.
CLI::Option* add_duration(CLI::App& app, const std::string& name, base::Duration* out,
                          const std::string& help);

// --log-level and --log-format into *level and *format (checked; base::log parses them).
void add_log_flags(CLI::App& app, std::string* level, std::string* format);

// --debug-listen into *address (default debug::kDefaultDebugListen). After parsing, the
// option's count() says whether it was given, which DebugServer::listen calls `required`.
CLI::Option* add_debug_listen(CLI::App& app, std::string* address);

}  // namespace spindle::cmd
