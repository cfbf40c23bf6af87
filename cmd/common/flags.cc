#include "common/flags.h"

#include "debug/debug_server.h"

namespace spindle::cmd {

std::optional<int> parse_flags(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : kExitUsage;
  }
  return std::nullopt;
}

CLI::Option* add_duration(CLI::App& app, const std::string& name, base::Duration* out,
                          const std::string& help) {
  auto* opt = app.add_option_function<std::string>(
      name,
      [out, name](const std::string& text) {
        auto d = base::parse_duration(text);
        if (!d) throw CLI::ValidationError(name, d.error());
        if (*d < base::Duration::zero()) {
          throw CLI::ValidationError(name, "duration \"" + text + "\" is negative");
        }
        *out = *d;
      },
      help + " (default " + base::format_duration(*out) + ")");
  opt->type_name("DUR");
  return opt;
}

void add_log_flags(CLI::App& app, std::string* level, std::string* format) {
  app.add_option("--log-level", *level, "least level of the event lines written to stderr")
      ->capture_default_str()
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}, CLI::ignore_case));
  app.add_option("--log-format", *format, "event lines on stderr as text or as JSON objects")
      ->capture_default_str()
      ->check(CLI::IsMember({"text", "json"}));
}

CLI::Option* add_debug_listen(CLI::App& app, std::string* address) {
  *address = debug::kDefaultDebugListen;
  return app
      .add_option("--debug-listen", *address,
                  "debug listener: /metrics (Prometheus), /healthz, /ready, /debug/pprof/ "
                  "index; 'off' disables (the default address, if taken, is skipped)")
      ->capture_default_str();
}

}  // namespace spindle::cmd
